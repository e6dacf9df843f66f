using System.Diagnostics;
using ExeGPT.Core.Profiles;
using ExeGPT.Native;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>The send.host_staged table: the WAA hand-off as the runner does it — every slot's KV exported
/// (<see cref="KvCache.ExportTo"/>) into a pinned <see cref="HostBuffer"/>, then imported into another cache of the
/// same shape — over blobs of every prefill batch of the grid × the first and last length × one and every layer
/// of the model, timed on every rank at once (slowest kept), median of the repeats. The axis is the KV bytes
/// handed off, the quantity the planner asks about.</summary>
/// <remarks>Only one layer is built, so an L-layer blob is handed off as L one-layer blobs of the slot: the same
/// export/import path over the same bytes, with L calls where the runner makes one. Beyond
/// <see cref="BufferCapBytes"/> the host buffer is reused cyclically: at that size the copy streams from memory
/// either way, and a buffer for every layer of many long sequences of a large model would not fit.</remarks>
internal sealed class KvHandOffTable : IDisposable
{
    private const long BufferCapBytes = 128L << 20;
    // More than a blob's header takes (magic, version, layer and head ranges, lengths).
    private const long HeaderSlackBytes = 4096;

    private readonly List<IDisposable> _owned = [];
    private readonly StepRunner[] _sources;
    private readonly KvCache[] _targets;
    private readonly int[][] _targetSlots;
    private readonly HostBuffer[] _buffers;
    private readonly RankCrew _crew;
    private readonly int _layers, _maxBatch;
    private readonly long _kvBytesPerToken;   // at the backend's storage dtype: the bytes the planner asks about

    /// <param name="request">Ranks, threads, backend, plug-in, grid.</param>
    /// <param name="oneLayer">The model's config with one layer (a tp-1 shard: a whole layer's KV).</param>
    /// <param name="layers">The model's layers.</param>
    /// <param name="dtypeBytes">Bytes per KV element at the backend's storage dtype.</param>
    public KvHandOffTable(ProfileRequest request, exg_model_config oneLayer, int layers, int dtypeBytes)
    {
        ProfileGrid grid = request.Grid;
        _layers = layers;
        _maxBatch = grid.PrefillRows[^1];
        int maxLength = grid.Lengths[^1];
        _kvBytesPerToken = 2L * oneLayer.hidden_size * dtypeBytes;
        // The buffer is sized for F32 rows, an upper bound for a blob of any storage dtype.
        long bufferBytesPerToken = 2L * oneLayer.hidden_size * sizeof(float);
        int ranks = request.Ranks;
        _sources = new StepRunner[ranks];
        _targets = new KvCache[ranks];
        _targetSlots = new int[ranks][];
        _buffers = new HostBuffer[ranks];
        try
        {
            for (int r = 0; r < ranks; r++)
            {
                Backend backend = Own(RankGroups.CreateBackend(request, r));
                Model model = Own(Model.Create(backend, new ModelOptions { Config = oneLayer, Seed = request.Seed }));
                KvCache source = Own(new KvCache(model, _maxBatch, maxLength));
                _targets[r] = Own(new KvCache(model, _maxBatch, maxLength));
                _targetSlots[r] = [.. Enumerable.Range(0, _maxBatch).Select(_ => _targets[r].AllocSlot())];
                _sources[r] = new StepRunner(model, source, oneLayer.vocab_size, _maxBatch, maxLength, request.OnDevice);
                // Room for every blob of the largest point (headers included), up to the cap but never below one blob.
                long oneBlob = maxLength * bufferBytesPerToken + HeaderSlackBytes;
                long everything = _maxBatch * layers * oneBlob;
                _buffers[r] = Own(HostBuffer.Allocate(backend, (ulong)Math.Min(everything, Math.Max(BufferCapBytes, oneBlob))));
            }
            _crew = new RankCrew(ranks, _ => { });
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>(slots, tokens per slot, layers) of every point: the prefill batches (what an encoder hands over at
    /// once) × the first and last length × 1 and every layer.</summary>
    public static IReadOnlyList<(int Slots, int Length, int Layers)> Points(ProfileGrid grid, int layers)
    {
        int[] lengths = [.. new[] { grid.Lengths[0], grid.Lengths[^1] }.Distinct()];
        int[] layerCounts = [.. new[] { 1, layers }.Distinct()];
        return [.. from length in lengths from b in grid.PrefillRows from l in layerCounts select (b, length, l)];
    }

    public ProfileTable1D Measure(ProfileGrid grid, ProgressCounter progress)
    {
        var samples = new SortedDictionary<long, List<double>>();
        var seconds = new double[_sources.Length];
        var runs = new double[grid.Repeats];
        foreach (var group in Points(grid, _layers).GroupBy(p => p.Length))
        {
            int length = group.Key;
            _crew.Run(r => _sources[r].PrefillKept(_maxBatch, length));
            try
            {
                _crew.Run(r => HandOff(r, 1, 1)); // warm-up: first touch of the buffer and the target rows
                foreach (var (slots, _, layers) in group)
                {
                    for (int rep = 0; rep < runs.Length; rep++)
                    {
                        _crew.Run(r =>
                        {
                            long start = Stopwatch.GetTimestamp();
                            HandOff(r, slots, layers);
                            seconds[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                        });
                        runs[rep] = seconds.Max();
                    }
                    Samples.Add(samples, slots * (long)length * layers * _kvBytesPerToken, Samples.Median(runs));
                    progress.Report($"kv hand-off {slots} slot(s) x {length} tokens x {layers} layer(s)");
                }
            }
            finally
            {
                _crew.Run(r => _sources[r].Free(_maxBatch));
            }
        }
        double[] times = [.. samples.Values.Select(v => Samples.Median(v))];
        Samples.RunningMax(times);
        return new ProfileTable1D(ProfileTables.SendHostStagedName, null,
            new ProfileAxis("bytes", samples.Keys.Select(b => (double)b)), times);
    }

    /// <summary>Rank <paramref name="rank"/> hands <paramref name="slots"/> slots × <paramref name="layers"/>
    /// layers over: every blob exported into the pinned buffer, then every blob imported.</summary>
    private void HandOff(int rank, int slots, int layers)
    {
        StepRunner source = _sources[rank];
        KvCache target = _targets[rank];
        int[] targetSlots = _targetSlots[rank];
        Span<byte> buffer = _buffers[rank].AsSpan<byte>();
        ReadOnlySpan<int> slotIds = source.Slots;
        int blob = checked((int)source.Cache.ExportSize(slotIds[0]));
        int regions = Math.Max(1, buffer.Length / blob), blobs = slots * layers;
        if (buffer.Length < blob)
            throw new InvalidOperationException($"a one-layer KV blob of {blob} bytes does not fit the {buffer.Length}-byte hand-off buffer");
        for (int k = 0; k < blobs; k++)
            source.Cache.ExportTo(slotIds[k % slots], buffer.Slice(k % regions * blob, blob));
        for (int k = 0; k < blobs; k++)
            target.Import(targetSlots[k % slots], buffer.Slice(k % regions * blob, blob));
    }

    private T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    public void Dispose()
    {
        _crew?.Dispose();
        for (int i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
        _owned.Clear();
    }
}
