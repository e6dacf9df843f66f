using System.Diagnostics;
using System.Runtime.InteropServices;
using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Native;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>What to profile.</summary>
/// <param name="Config">The model's shape (a preset or a checkpoint's config); weights are seeded random.</param>
/// <param name="ModelName">Name recorded in the profile's fingerprint.</param>
/// <param name="Grid">Batch sizes and lengths to time.</param>
/// <param name="Threads">CPU threads (0: every core).</param>
/// <param name="Seed">Seed of the random weights.</param>
public sealed record ProfileRequest(exg_model_config Config, string ModelName, ProfileGrid Grid, int Threads = 0, ulong Seed = 1);

/// <summary>The paper's XProfiler on the real engine (CPU backend, tensor-parallel degree 1 for now): one layer
/// of the model is built with seeded weights and every grid point is prefilled or decoded with per-part step
/// timing on, so attention and the rest of the layer are measured separately; the median of the repeats is
/// kept and the spread (max − min) recorded. Point-to-point sends are timed as host memory copies (CPU ranks
/// share one machine). The result is a measured profile in the same format as the analytic one.</summary>
public static class XProfiler
{
    /// <summary>The profile; <paramref name="progress"/> receives (points done, points in all).</summary>
    public static ProfileTables Profile(ProfileRequest request, IProgress<(int Done, int Total)>? progress = null)
    {
        exg_model_config config = request.Config;
        ProfileGrid grid = request.Grid;
        grid.Validate(config.max_positions);
        if (grid.Lengths[0] < 2)
            throw new SpecException("profile grid: lengths start at 2 (a decode context of 1 has no prompt to prefill)");
        ModelSpec spec = ModelSpecOf(config, request.ModelName);

        // One layer is enough: every layer of the model has the same shape, and timings are per layer.
        exg_model_config oneLayer = config;
        oneLayer.num_layers = 1;
        using Backend backend = Backend.CreateCpu(request.Threads);
        using Model model = Model.Create(backend, new ModelOptions { Config = oneLayer, Seed = request.Seed });
        model.EnableStepTiming(true);
        int maxBatch = grid.Batches[^1], maxLength = grid.Lengths[^1];
        using var cache = new KvCache(model, maxBatch, maxLength + grid.Repeats + 1);
        var runner = new StepRunner(model, cache, config.vocab_size, maxBatch, maxLength);

        int total = 2 * grid.Batches.Count * grid.Lengths.Count, done = 0;
        for (int w = 0; w < grid.Warmup; w++)
            runner.Prefill(grid.Batches[0], grid.Lengths[0]);

        int rows = grid.Batches.Count, cols = grid.Lengths.Count;
        double[] prefillAttention = new double[rows * cols], prefillSpread = new double[rows * cols];
        double[] decodeAttention = new double[rows * cols], decodeSpread = new double[rows * cols];
        var prefillRest = new SortedDictionary<int, List<double>>();
        var decodeRest = new SortedDictionary<int, List<double>>();
        var attention = new double[grid.Repeats];
        var rest = new double[grid.Repeats];
        for (int i = 0; i < rows; i++)
        {
            int b = grid.Batches[i];
            for (int j = 0; j < cols; j++)
            {
                int s = grid.Lengths[j];
                for (int r = 0; r < grid.Repeats; r++)
                    (attention[r], rest[r]) = PerLayer(runner.Prefill(b, s));
                (prefillAttention[i * cols + j], prefillSpread[i * cols + j]) = MedianAndSpread(attention);
                Add(prefillRest, b * s, Median(rest));
                progress?.Report((++done, total));

                var steps = runner.Decode(b, s, grid.Repeats);
                for (int r = 0; r < grid.Repeats; r++)
                    (attention[r], rest[r]) = PerLayer(steps[r]);
                (decodeAttention[i * cols + j], decodeSpread[i * cols + j]) = MedianAndSpread(attention);
                Add(decodeRest, b, Median(rest));
                progress?.Report((++done, total));
            }
        }

        var batch = new ProfileAxis("batch", grid.Batches.Select(v => (double)v));
        var layers = new TensorParallelTables(1,
            new ProfileTable2D(TensorParallelTables.EncoderAttentionName, 1, batch,
                new ProfileAxis("seq_len", grid.Lengths.Select(v => (double)v)), prefillAttention, prefillSpread),
            Table1D(TensorParallelTables.EncoderRestName, "tokens", prefillRest),
            new ProfileTable2D(TensorParallelTables.DecoderAttentionName, 1, batch,
                new ProfileAxis("context", grid.Lengths.Select(v => (double)v)), decodeAttention, decodeSpread),
            null,
            Table1D(TensorParallelTables.DecoderRestName, "tokens", decodeRest));
        ProfileTable1D send = HostCopyTable(ProfileTables.SendIntraNodeName);
        var metadata = new ProfileMetadata(ProfileKind.Measured, ModelFingerprint.Of(spec), DeviceName(request.Threads), "cpu",
            EngineVersion(), DateTime.UtcNow,
            $"XProfiler, one layer, seed {request.Seed}; batches {string.Join(",", grid.Batches)}; lengths " +
            $"{string.Join(",", grid.Lengths)}; median of {grid.Repeats}; sends are host memory copies");
        return new ProfileTables(metadata, [layers], [], send,
            Rename(send, ProfileTables.SendInterNodeName), Rename(send, ProfileTables.SendHostStagedName));
    }

    /// <summary>The planner's view of an engine config: decoder-only, multi-head, FP32 on the CPU backend.</summary>
    public static ModelSpec ModelSpecOf(in exg_model_config c, string name) => new(
        name, ModelArchitecture.DecoderOnly, 0, c.num_layers, c.hidden_size, c.num_heads, c.num_heads,
        c.hidden_size / c.num_heads, c.ffn_dim, GatedFfn: false, c.vocab_size, DtypeBytes: 4, c.max_positions);

    private static (double Attention, double Others) PerLayer(in exg_step_timings t) =>
        (t.attention_seconds / t.layers, t.layer_rest_seconds / t.layers);

    private static void Add(SortedDictionary<int, List<double>> into, int tokens, double seconds)
    {
        if (!into.TryGetValue(tokens, out List<double>? list))
            into[tokens] = list = [];
        list.Add(seconds);
    }

    private static ProfileTable1D Table1D(string name, string axis, SortedDictionary<int, List<double>> samples) =>
        new(name, 1, new ProfileAxis(axis, samples.Keys.Select(k => (double)k)), samples.Values.Select(v => Median(v.ToArray())));

    private static double Median(IReadOnlyList<double> values)
    {
        double[] sorted = [.. values.Order()];
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static (double Median, double Spread) MedianAndSpread(double[] values) => (Median(values), values.Max() - values.Min());

    /// <summary>Host memory copies from 1 byte to 256 MiB (ratio 16), median of 5.</summary>
    private static ProfileTable1D HostCopyTable(string name)
    {
        var sizes = new List<double>();
        for (long bytes = 1; bytes <= 256L << 20; bytes *= 16) sizes.Add(bytes);
        byte[] source = GC.AllocateUninitializedArray<byte>(256 << 20), target = GC.AllocateUninitializedArray<byte>(256 << 20);
        source.AsSpan().Fill(1);
        var times = new List<double>();
        var runs = new double[5];
        foreach (double size in sizes)
        {
            for (int r = 0; r < runs.Length; r++)
            {
                long start = Stopwatch.GetTimestamp();
                source.AsSpan(0, (int)size).CopyTo(target);
                runs[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            times.Add(Median(runs));
        }
        // Copy time never falls with size; timer noise at tiny sizes can make it look so.
        for (int i = 1; i < times.Count; i++) times[i] = Math.Max(times[i], times[i - 1]);
        return new ProfileTable1D(name, null, new ProfileAxis("bytes", sizes), times);
    }

    private static ProfileTable1D Rename(ProfileTable1D t, string name) => new(name, null, t.Axis, t.Times.ToArray());

    private static string DeviceName(int threads) =>
        $"{HostCpu.Name}, {(threads > 0 ? threads : Environment.ProcessorCount)} threads";

    private static string EngineVersion() =>
        $"exegpt api {NativeMethods.ApiVersion}, {typeof(XProfiler).Assembly.GetName().Version}, {RuntimeInformation.OSArchitecture}";
}
