using System.Diagnostics;
using ExeGPT.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Runtime;

/// <summary>
/// Generates tokens from the host: the model is cut into <c>stages x tp</c> shards (one backend per
/// TP rank, shared by that rank's stages: a CPU backend, or CUDA device r for rank r), the TP ranks
/// of a stage run together on dedicated threads and meet in the stage's all-reduce (a host group on
/// CPU, NCCL on CUDA), and stage s's hidden states feed stage s + 1. Stages run one after another (no
/// micro-batch pipelining); only the last stage's rank 0 logits are sampled: on the host on CPU, on
/// the device on CUDA (the logits stay there unless they are captured). One <see cref="Generate"/>
/// call at a time.
/// </summary>
public sealed partial class HostGenerator : IDisposable
{
    private readonly ILogger _logger;
    private readonly exg_model_config _config;
    private readonly LayerRange[] _layers;
    private readonly int _tp;
    private readonly Backend[] _backends;  // [rank]
    private readonly Comm[]?[] _comms;     // [stage][rank]; null entries when tp == 1
    private readonly Model[,] _models;     // [stage, rank]
    private readonly RankGang? _gang;      // null when tp == 1: rank 0 runs inline
    private readonly bool _sampleOnDevice; // CUDA: Model.Sample on the device; CPU: Sampler on the host logits

    private KvCache[,]? _caches;           // [stage, rank]; sized lazily, dropped after a failure
    private int _cacheSlots;
    private int _cacheSeqLen;
    private int[] _compactMap = [];
    private int[] _compactCheck = [];
    private StepBuffers? _buffers;

    // The step every rank executes next; written before the gang starts, read by its threads.
    private int _stepStage;
    private bool _stepIsPrefill;
    private int _stepSeqs;
    private int _stepTokens;
    private bool _stepCopiesLogits;        // the last stage writes its logits to the host buffer

    private volatile bool _faulted;
    private int _busy;
    private bool _disposed;

    /// <summary>Creates every shard; fails (leaving nothing behind) when the native engine rejects
    /// the model, the checkpoint or the sharding.</summary>
    /// <exception cref="ArgumentException">Bad TP size or stage count.</exception>
    /// <exception cref="ExgException">The engine could not create a backend, communicator or shard.</exception>
    public HostGenerator(GeneratorOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Model);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TensorParallel, 1, nameof(options.TensorParallel));
        _logger = logger ?? NullLogger.Instance;
        _config = options.Model.Config;
        _layers = LayerPartition.Split(_config.num_layers, options.Stages);
        _tp = options.TensorParallel;
        Source = options.Model;

        int stages = _layers.Length;
        int threadsPerRank = ThreadsPerRank(options.Threads, _tp);
        bool cuda = options.Backend == exg_backend_kind.EXG_BACKEND_CUDA;
        _sampleOnDevice = cuda;
        _backends = new Backend[_tp];
        _comms = new Comm[]?[stages];
        _models = new Model[stages, _tp];
        try
        {
            for (int r = 0; r < _tp; r++)
                _backends[r] = Backend.Create(options.Backend, r, threadsPerRank, options.Dtype);
            for (int s = 0; s < stages; s++)
            {
                if (_tp > 1)
                    _comms[s] = Comm.CreateGroup(_backends, options.CommTimeoutMs);
                for (int r = 0; r < _tp; r++)
                {
                    _models[s, r] = Model.Create(_backends[r], new ModelOptions
                    {
                        Config = _config,
                        CheckpointDir = options.Model.CheckpointDir,
                        Seed = options.Seed,
                        LayerBegin = _layers[s].Begin,
                        LayerEnd = _layers[s].End,
                        TpRank = r,
                        TpSize = _tp,
                        Comm = _comms[s]?[r],
                    });
                    RuntimeLog.ShardCreated(_logger, s, r, _layers[s].Begin, _layers[s].End, _models[s, r].Info.parameter_bytes);
                }
            }
            if (_tp > 1)
                _gang = new RankGang(_tp, RunShardStep, OnRankFailed, "exegpt-tp");
        }
        catch
        {
            Dispose();
            throw;
        }
        RuntimeLog.GeneratorReady(_logger, Source.Name, stages, _tp, _backends[0].Name, DtypeNames.Name(_backends[0].Dtype), threadsPerRank);
    }

    /// <summary>The backend every shard runs on (all ranks have the same kind and dtype).</summary>
    public exg_backend_kind BackendKind => _backends[0].Kind;

    /// <summary>The storage dtype of the shards.</summary>
    public exg_dtype Dtype => _backends[0].Dtype;

    /// <summary>The model being run.</summary>
    public ModelSource Source { get; }

    /// <summary>The model's shape.</summary>
    public exg_model_config Config => _config;

    /// <summary>Tensor-parallel ranks per stage.</summary>
    public int TensorParallel => _tp;

    /// <summary>The layer range of each pipeline stage.</summary>
    public IReadOnlyList<LayerRange> StageLayers => _layers;

    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens for every prompt. The prompts are
    /// prefilled as one ragged batch, then every live sequence decodes one token per step; a
    /// sequence stops at <paramref name="maxNewTokens"/> or right after emitting
    /// <paramref name="eosTokenId"/>, and its KV slot is freed at once. Sequence i samples from its
    /// own stream <c>Sampler.RngInit(seed, i)</c>, so its tokens do not depend on the other prompts.
    /// The request is checked completely before anything runs.
    /// </summary>
    /// <exception cref="ArgumentException">No prompts, an empty prompt, a token id outside the
    /// vocabulary, a prompt that would run past max_positions (each naming the prompt index),
    /// bad sampling options or eos id.</exception>
    /// <exception cref="ExgException">The engine failed; with tp &gt; 1 the generator is faulted
    /// afterwards (its communicators were aborted) and must be recreated.</exception>
    /// <exception cref="InvalidOperationException">A faulted generator, or a concurrent call.</exception>
    public GenerationResult Generate(IReadOnlyList<int[]> prompts, int maxNewTokens, SamplingOptions sampling,
        ulong seed, bool captureLogits, int? eosTokenId = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int totalPromptTokens = ValidateRequest(prompts, maxNewTokens, sampling, eosTokenId);
        if (_faulted)
            throw new InvalidOperationException(
                "This generator's communicators were aborted by an earlier failure; create a new HostGenerator.");
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("HostGenerator runs one Generate call at a time.");
        try
        {
            return GenerateCore(prompts, totalPromptTokens, maxNewTokens, sampling, seed, captureLogits, eosTokenId);
        }
        catch
        {
            // Slots of the failed call may be half-allocated across shards; start the next call clean.
            DropCaches();
            throw;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private GenerationResult GenerateCore(IReadOnlyList<int[]> prompts, int totalPromptTokens, int maxNewTokens,
        SamplingOptions sampling, ulong seed, bool captureLogits, int? eosTokenId)
    {
        int count = prompts.Count;
        int maxSeqLen = 0;
        foreach (int[] prompt in prompts)
            maxSeqLen = Math.Max(maxSeqLen, prompt.Length + maxNewTokens - 1);  // the last token is never fed back
        EnsureCaches(count, maxSeqLen);
        StepBuffers buffers = EnsureBuffers(count, totalPromptTokens);

        var run = new SequenceTable(count, maxNewTokens, captureLogits, eosTokenId, seed);
        _stepCopiesLogits = !_sampleOnDevice || captureLogits;
        Span<int> tokenIds = buffers.TokenIds(totalPromptTokens);
        for (int i = 0, offset = 0; i < count; i++)
        {
            int[] prompt = prompts[i];
            buffers.Slots[i] = AllocSlotOnEveryShard();
            buffers.SeqLens[i] = prompt.Length;
            prompt.CopyTo(tokenIds[offset..]);
            offset += prompt.Length;
        }

        long started = Stopwatch.GetTimestamp();
        RunStages(prefill: true, count, totalPromptTokens);
        int live = SampleAndRetire(run, count, sampling);
        TimeSpan prefillTime = Stopwatch.GetElapsedTime(started);
        RuntimeLog.Prefilled(_logger, count, totalPromptTokens, prefillTime.TotalMilliseconds);

        started = Stopwatch.GetTimestamp();
        int steps = 0, decoded = 0;
        while (live > 0)
        {
            if (ShouldCompact(buffers.Slots, live))
                CompactEveryShard(buffers.Slots, live);
            RunStages(prefill: false, live, live);
            steps++;
            decoded += live;
            live = SampleAndRetire(run, live, sampling);
        }
        TimeSpan decodeTime = Stopwatch.GetElapsedTime(started);

        SequenceOutput[] outputs = run.ToOutputs(prompts);
        RuntimeLog.Generated(_logger, count + decoded, count, steps);
        return new GenerationResult(outputs, new GenerationStats(prefillTime, decodeTime, totalPromptTokens, steps, decoded));
    }

    /// <summary>Runs one prefill or decode step through every stage, in order.</summary>
    private void RunStages(bool prefill, int seqs, int tokens)
    {
        _stepIsPrefill = prefill;
        _stepSeqs = seqs;
        _stepTokens = tokens;
        for (int s = 0; s < _layers.Length; s++)
        {
            _stepStage = s;
            if (_gang is null)
                RunShardStep(0);
            else
                _gang.Run();
        }
    }

    /// <summary>One rank's share of the current step (runs on that rank's thread).</summary>
    private void RunShardStep(int rank)
    {
        int stage = _stepStage, seqs = _stepSeqs, tokens = _stepTokens;
        bool first = stage == 0, last = stage == _layers.Length - 1;
        StepBuffers buffers = _buffers!;
        var batch = new Batch
        {
            Slots = buffers.Slots[..seqs],
            SeqLens = _stepIsPrefill ? buffers.SeqLens[..seqs] : default,
            TokenIds = first ? buffers.TokenIds(tokens) : default,
            // After the all-reduce every rank holds the same hidden states; rank 0's feed the next stage.
            HiddenIn = first ? default : buffers.HiddenOut(stage - 1, 0, tokens),
            HiddenOut = last ? default : buffers.HiddenOut(stage, rank, tokens),
            LogitsOut = last && _stepCopiesLogits ? buffers.Logits(rank, seqs) : default,
        };
        Model model = _models[stage, rank];
        KvCache cache = _caches![stage, rank];
        if (_stepIsPrefill)
            model.Prefill(cache, batch);
        else
            model.Decode(cache, batch);
    }

    private void OnRankFailed(int rank, Exception failure)
    {
        int stage = _stepStage;
        RuntimeLog.RankFailed(_logger, stage, rank, failure);
        // Peers blocked in the all-reduce would otherwise wait for the comm timeout.
        _faulted = true;
        _comms[stage]![rank].Abort();
    }

    /// <summary>
    /// Samples the next token of rows [0, rows) straight into the token-id buffer the next decode
    /// reads, records it, frees the slots of finished sequences, and packs the survivors (slot,
    /// token, rng stream, sequence) into rows [0, live) in their previous order.
    /// </summary>
    private int SampleAndRetire(SequenceTable run, int rows, in SamplingOptions sampling)
    {
        StepBuffers buffers = _buffers!;
        int vocab = _config.vocab_size;
        ReadOnlySpan<float> logits = _stepCopiesLogits ? buffers.Logits(0, rows) : default;
        Span<int> next = buffers.TokenIds(rows);
        Span<int> slots = buffers.Slots;
        if (_sampleOnDevice)
            _models[_layers.Length - 1, 0].Sample(sampling, run.RowRng.AsSpan(0, rows), next);
        else
            Sampler.Sample(logits, rows, vocab, sampling, run.RowRng.AsSpan(0, rows), next);

        int live = 0;
        for (int row = 0; row < rows; row++)
        {
            int token = next[row];
            int sequence = run.RowSequence[row];
            FinishReason? finished = run.Record(sequence, token, logits.IsEmpty ? default : logits.Slice(row * vocab, vocab));
            if (finished is { } reason)
            {
                FreeSlotOnEveryShard(slots[row]);
                RuntimeLog.SequenceFinished(_logger, sequence, reason, run.GeneratedCount(sequence));
                continue;
            }
            run.RowSequence[live] = sequence;
            run.RowRng[live] = run.RowRng[row];
            slots[live] = slots[row];
            next[live] = token;
            live++;
        }
        return live;
    }

    private int AllocSlotOnEveryShard()
    {
        int slot = -1;
        foreach (KvCache cache in _caches!)
        {
            int taken = cache.AllocSlot();
            if (slot >= 0 && taken != slot)
                throw new InvalidOperationException(
                    $"KV caches of the shards disagree: slot {taken} allocated where the first shard got {slot}.");
            slot = taken;
        }
        return slot;
    }

    private void FreeSlotOnEveryShard(int slot)
    {
        foreach (KvCache cache in _caches!)
            cache.FreeSlot(slot);
    }

    /// <summary>
    /// Compacts once finished sequences leave at least half of the occupied slot range empty, so
    /// the live sequences stay in a dense prefix of the cache as the batch shrinks. Rows keep
    /// ascending slots (allocation and compaction both preserve order), so the last row holds the
    /// highest slot.
    /// </summary>
    private static bool ShouldCompact(ReadOnlySpan<int> slots, int live)
    {
        int occupiedRange = slots[live - 1] + 1;
        return (occupiedRange - live) * 2 >= occupiedRange;
    }

    private void CompactEveryShard(Span<int> slots, int live)
    {
        bool firstShard = true;
        foreach (KvCache cache in _caches!)
        {
            Span<int> map = firstShard ? _compactMap : _compactCheck;
            int compactedLive = cache.Compact(map);
            if (compactedLive != live || (!firstShard && !map.SequenceEqual(_compactMap)))
                throw new InvalidOperationException(
                    $"KV caches of the shards disagree after compaction ({compactedLive} live, expected {live}).");
            firstShard = false;
        }
        for (int row = 0; row < live; row++)
            slots[row] = _compactMap[slots[row]];
        RuntimeLog.CachesCompacted(_logger, live);
    }

    private void EnsureCaches(int slots, int seqLen)
    {
        if (_caches is not null && slots <= _cacheSlots && seqLen <= _cacheSeqLen)
            return;
        DropCaches();
        var caches = new KvCache[_layers.Length, _tp];
        try
        {
            for (int s = 0; s < _layers.Length; s++)
                for (int r = 0; r < _tp; r++)
                    caches[s, r] = new KvCache(_models[s, r], slots, seqLen);
        }
        catch
        {
            foreach (KvCache? cache in caches)
                cache?.Dispose();
            throw;
        }
        _caches = caches;
        _cacheSlots = slots;
        _cacheSeqLen = seqLen;
        _compactMap = new int[slots];
        _compactCheck = new int[slots];
        RuntimeLog.CachesSized(_logger, slots, seqLen);
    }

    private void DropCaches()
    {
        if (_caches is null)
            return;
        foreach (KvCache cache in _caches)
            cache?.Dispose();
        _caches = null;
    }

    private StepBuffers EnsureBuffers(int seqs, int tokens)
    {
        if (_buffers is not null && _buffers.Fits(seqs, tokens))
            return _buffers;
        _buffers?.Dispose();
        _buffers = null;
        _buffers = new StepBuffers(_backends, _layers.Length, _config.hidden_size, _config.vocab_size, seqs, tokens);
        return _buffers;
    }

    private static int ThreadsPerRank(int totalThreads, int tp)
    {
        int total = totalThreads > 0 ? totalThreads : Environment.ProcessorCount;
        return Math.Max(1, total / tp);
    }

    /// <summary>Releases every shard, cache, buffer, communicator and backend.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _gang?.Dispose();
        _buffers?.Dispose();
        DropCaches();
        foreach (Model? model in _models)
            model?.Dispose();
        foreach (Comm[]? group in _comms)
            foreach (Comm? comm in group ?? [])
                comm?.Dispose();
        foreach (Backend? backend in _backends)
            backend?.Dispose();
    }
}
