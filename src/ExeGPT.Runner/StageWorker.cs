using ExeGPT.Native;
using ExeGPT.Native.Interop;
using ExeGPT.Runtime;
using ExeGPT.Simulator;

namespace ExeGPT.Runner;

/// <summary>
/// One pipeline stage on its devices: a model shard per TP rank (layer range x rank), a KV cache per shard and,
/// for TP &gt; 1, a communicator group (host on CPU, NCCL on CUDA). A dedicated thread takes micro-batches from <see cref="Inbox"/> in
/// order, runs them (the TP ranks together through a <see cref="RankGang"/>) and hands them to the next stage
/// or, after the last one, to <see cref="Completed"/>. The stage's caches are touched only by this thread:
/// slot allocation, KV import and the release of finished rows travel with the micro-batch and happen here,
/// so a cache never races with a step.
/// </summary>
internal sealed class StageWorker : IDisposable
{
    private readonly Model[] _models;
    private readonly KvCache?[] _caches;
    private readonly Comm[]? _comms;
    private readonly RankGang? _gang;
    private readonly Thread _thread;
    private readonly Action<Exception> _onFault;
    private readonly bool _sampleOnDevice;   // CUDA: the last stage samples where the logits are
    private MicroBatch? _current;

    public StageWorker(string name, StagePlan plan, int index, int depth, IReadOnlyList<Backend> devices,
        exg_model_config config, string? checkpointDir, ulong seed, uint commTimeoutMs, Action<Exception> onFault)
    {
        Plan = plan;
        Index = index;
        IsFirst = index == 0;
        IsLast = index == depth - 1;
        _onFault = onFault;
        _models = new Model[plan.Tp];
        _caches = new KvCache?[plan.Tp];
        _sampleOnDevice = devices[plan.FirstDevice].Kind == exg_backend_kind.EXG_BACKEND_CUDA;
        try
        {
            if (plan.Tp > 1)
                _comms = Comm.CreateGroup([.. devices.Skip(plan.FirstDevice).Take(plan.Tp)], commTimeoutMs);
            for (int r = 0; r < plan.Tp; r++)
                _models[r] = Model.Create(devices[plan.FirstDevice + r], new ModelOptions
                {
                    Config = config,
                    CheckpointDir = checkpointDir,
                    Seed = seed,
                    LayerBegin = plan.LayerBegin,
                    LayerEnd = plan.LayerEnd,
                    TpRank = r,
                    TpSize = plan.Tp,
                    Comm = _comms?[r],
                });
            if (plan.Tp > 1)
                _gang = new RankGang(plan.Tp, RunRank, OnRankFailed, $"{name}-tp");
        }
        catch
        {
            Dispose();
            throw;
        }
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
    }

    public StagePlan Plan { get; }

    public int Index { get; }

    public bool IsFirst { get; }

    public bool IsLast { get; }

    public WorkQueue<MicroBatch> Inbox { get; } = new();

    /// <summary>WAA decoder stages: a new row's KV comes from its staging buffer (encoders fill it instead).</summary>
    public bool ImportsStagedKv { get; set; }

    /// <summary>Where imported staging buffers go back (WAA decoder stages).</summary>
    public StagingPool? Staging { get; set; }

    /// <summary>The next stage; null for the last.</summary>
    public StageWorker? Next { get; set; }

    /// <summary>Runs after this stage's step on its thread, before the hand-over (WAA encoders export KV here).</summary>
    public Action<StageWorker, MicroBatch>? AfterStep { get; set; }

    /// <summary>Receives each micro-batch after the last stage, on the last stage's thread.</summary>
    public Action<MicroBatch>? Completed { get; set; }

    public KvCache Cache(int rank) => _caches[rank]!;

    public int Tp => Plan.Tp;

    /// <summary>Creates the caches (before the thread starts or while the stage is idle).</summary>
    public void CreateCaches(int slots, int seqLen)
    {
        for (int r = 0; r < _caches.Length; r++)
        {
            _caches[r]?.Dispose();
            _caches[r] = null;
            _caches[r] = new KvCache(_models[r], slots, seqLen);
        }
    }

    /// <summary>Starts the stage thread (once; later runs reuse it).</summary>
    public void StartOnce()
    {
        if (_thread.ThreadState.HasFlag(System.Threading.ThreadState.Unstarted))
            _thread.Start();
    }

    private void Loop()
    {
        while (Inbox.Take(out MicroBatch batch))
        {
            // After a failure the run is over: drop the work instead of running it on a broken pipeline.
            if (_aborted)
                continue;
            // Nothing may escape a stage thread (it would end the process): a failure fails the run instead.
            try
            {
                Prepare(batch);
                if (IsFirst && batch.Prefill)
                    StampStarted(batch);
                if (batch.Rows > 0)
                {
                    // On CUDA the logits stay on the device when one rule samples every row (the usual case); rows
                    // sampling differently take theirs to the host, each sampled with its own rule there.
                    if (IsLast)
                    {
                        SamplingOptions shared = default;
                        batch.LogitsOnDevice = _sampleOnDevice && batch.TryGetSharedSampling(out shared);
                        batch.SharedSampling = shared;
                    }
                    _current = batch;
                    if (_gang is null)
                        RunRank(0);
                    else
                        _gang.Run();
                }
                AfterStep?.Invoke(this, batch);
                if (Next is not null)
                    Next.Inbox.Add(batch);
                else
                    Completed!(batch);
            }
            catch (Exception failure)
            {
                _onFault(failure);
            }
        }
    }

    /// <summary>Frees the slots of rows that finished since the batch was last here, and gives rows that are new
    /// to this stage a slot on every rank (importing their staged KV, if any).</summary>
    private void Prepare(MicroBatch batch)
    {
        foreach (int slot in batch.TakePendingFrees(Index))
            FreeSlot(slot);
        Span<int> slots = batch.Slots(Index);
        for (int row = 0; row < batch.Rows; row++)
        {
            if (slots[row] >= 0)
                continue;
            slots[row] = AllocSlot();
            if (ImportsStagedKv && batch.Staged[row] is { } staged)
            {
                bool lastImporter = false;
                for (int r = 0; r < _caches.Length; r++)
                    lastImporter |= staged.ImportInto(_caches[r]!, slots[row], Index, r);
                if (lastImporter)
                {
                    batch.Staged[row] = null;
                    Staging!.Return(staged);
                }
            }
        }
    }

    /// <summary>A query's latency counts from its encoding's start (as the simulator's): when the first stage takes
    /// its prefill, not when it was queued behind another batch (WAA encoders run ahead of the decoders).</summary>
    private static void StampStarted(MicroBatch batch)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int row = 0; row < batch.Rows; row++)
            if (batch.Request[row] is { Started: 0 } request)
                request.Started = now;
    }

    private int AllocSlot()
    {
        int slot = -1;
        foreach (KvCache? cache in _caches)
        {
            int taken = cache!.AllocSlot();
            if (slot >= 0 && taken != slot)
                throw new InvalidOperationException($"stage {Index}: TP ranks' KV caches disagree (slot {taken} vs {slot})");
            slot = taken;
        }
        return slot;
    }

    /// <summary>Frees one slot on every rank (the owning thread only).</summary>
    public void FreeSlot(int slot)
    {
        foreach (KvCache? cache in _caches)
            cache!.FreeSlot(slot);
    }

    private int _failRank = -1, _failCountdown;

    /// <summary>Test hook: rank <paramref name="rank"/> fails its <paramref name="step"/>-th step from now, as a crashed
    /// kernel would (its peers are then released by the communicator abort).</summary>
    internal void InjectFailure(int rank, int step)
    {
        _failCountdown = step;
        _failRank = rank;
    }

    private void RunRank(int rank)
    {
        if (rank == _failRank && Interlocked.Decrement(ref _failCountdown) == 0)
            throw new InvalidOperationException($"injected failure on stage {Index} rank {rank}");
        MicroBatch mb = _current!;
        int rows = mb.Rows;
        var batch = new Batch
        {
            Slots = mb.Slots(Index)[..rows],
            SeqLens = mb.Prefill ? mb.SeqLens[..rows] : default,
            TokenIds = IsFirst ? mb.TokenIds[..mb.Tokens] : default,
            HiddenIn = IsFirst ? default : mb.HiddenIn(Index),
            HiddenOut = IsLast ? default : mb.HiddenOut(Index, rank),
            LogitsOut = IsLast && !mb.LogitsOnDevice ? mb.Logits(rank) : default,
        };
        if (mb.Prefill)
            _models[rank].Prefill(_caches[rank]!, batch);
        else
            _models[rank].Decode(_caches[rank]!, batch);
    }

    private void OnRankFailed(int rank, Exception failure) => _comms![rank].Abort();

    /// <summary>Samples every row of <paramref name="mb"/>'s last pass on the device (rank 0's logits; the last stage's
    /// thread, after the step) into <see cref="MicroBatch.Sampled"/>, advancing each request's stream. Padding rows
    /// (no request) are sampled from a throw-away stream and ignored.</summary>
    public void SampleOnDevice(MicroBatch mb)
    {
        int rows = mb.Rows;
        Span<ulong> rng = mb.Rng.AsSpan(0, rows);
        for (int row = 0; row < rows; row++)
            rng[row] = mb.Request[row] is { } request ? request.RngSpan[0] : 0;
        _models[0].Sample(mb.SharedSampling, rng, mb.Sampled.AsSpan(0, rows));
        for (int row = 0; row < rows; row++)
            if (mb.Request[row] is { } request)
                request.RngSpan[0] = rng[row];
    }

    /// <summary>Stops the thread after the queued work (or at once when the run failed).</summary>
    public void Stop()
    {
        Inbox.Close();
        if (_thread is { IsAlive: true })
            _thread.Join();
    }

    public void Dispose()
    {
        Stop();
        _gang?.Dispose();
        foreach (KvCache? cache in _caches)
            cache?.Dispose();
        foreach (Model? model in _models)
            model?.Dispose();
        foreach (Comm comm in _comms ?? [])
            comm.Dispose();
    }

    private volatile bool _aborted;

    /// <summary>Stops taking work and aborts the stage's collectives so peers blocked in an all-reduce return.</summary>
    public void Abort()
    {
        _aborted = true;
        foreach (Comm comm in _comms ?? [])
            comm.Abort();
    }
}
