using System.Diagnostics;
using ExeGPT.Native;
using ExeGPT.Native.Interop;
using ExeGPT.Runtime;
using ExeGPT.Simulator;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ExeGPT.Runner;

/// <summary>
/// The paper's XRunner on CPU ranks or CUDA devices: builds exactly the stages the simulator timed for a schedule
/// (<see cref="XSimulator.Layout"/>) — one backend per device (a CPU rank, or CUDA device d for the layout's device
/// d), a model shard per (stage, TP rank), a thread per stage — and runs queries through them under the schedule's
/// policy:
/// <list type="bullet">
/// <item>RRA: encode a batch (one micro-batch per stage, pipelined), then N_D decode iterations with the
/// running batch split into micro-batches that circulate through the stages independently; finished queries
/// leave at once (early termination) and the caches are compacted between phases.</item>
/// <item>WAA: encoder devices (their own copy of the layers) and decoder devices run asynchronously; each
/// encoded query's KV goes through a page-locked host buffer into the decoders' caches and joins the running
/// batch at its micro-batch's next pass.</item>
/// <item>Static (FasterTransformer): a batch decodes until its longest member is done. Continuous (ORCA):
/// each iteration decodes the running batch and admits one new prefill.</item>
/// </list>
/// Encoder batches follow the paper's dynamic workload adjustment. A failing stage fails the run with its
/// root cause (no hang); the runner is unusable afterwards. One run at a time.
/// </summary>
public sealed partial class XRunner : IDisposable
{
    private readonly ExecutionLayout _layout;
    private readonly RunnerOptions _options;
    private readonly ILogger _logger;
    private readonly exg_model_config _config;
    private readonly Backend[] _devices;
    private readonly StageWorker[] _stages;     // the pipeline (WAA: the decoders)
    private readonly StageWorker[] _encoders;   // WAA only
    private readonly object _signal = new();
    private Exception? _fault;
    private int _busy;
    private bool _disposed;
    private long _decodeRows, _decodeSteps;
    private int _finishedCount;
    private StagingPool? _staging;

    /// <summary>Creates every backend and shard of <paramref name="layout"/>.</summary>
    /// <exception cref="ExgException">The engine rejected the model, checkpoint or sharding.</exception>
    public XRunner(ExecutionLayout layout, RunnerOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        _layout = layout;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _config = options.Model.Config;
        int devices = layout.Devices;
        int threads = options.ThreadsPerDevice > 0 ? options.ThreadsPerDevice : Math.Max(1, Environment.ProcessorCount / devices);
        bool cuda = options.Backend == exg_backend_kind.EXG_BACKEND_CUDA;
        _devices = new Backend[devices];
        _stages = new StageWorker[layout.Stages.Count];
        _encoders = new StageWorker[layout.EncoderStages.Count];
        try
        {
            for (int d = 0; d < devices; d++)
                _devices[d] = Backend.Create(options.Backend, d, threads, options.Dtype);
            Build(_encoders, layout.EncoderStages, "exegpt-enc");
            Build(_stages, layout.Stages, IsWaa ? "exegpt-dec" : "exegpt-stage");
        }
        catch
        {
            Dispose();
            throw;
        }
        _logger.LogInformation("XRunner: {Schedule} on {Devices} {Backend} device(s) ({Dtype}{Threads}; {Stages} stages{Encoders})",
            layout.Schedule, devices, _devices[0].Name, DtypeNames.Name(_devices[0].Dtype), cuda ? "" : $", {threads} threads each",
            _stages.Length, IsWaa ? $", {_encoders.Length} encoder stages" : "");
    }

    /// <summary>The stages this runner built.</summary>
    public ExecutionLayout Layout => _layout;

    private bool IsWaa => _encoders.Length > 0;

    private Schedule Schedule => _layout.Schedule;

    private void Build(StageWorker[] into, IReadOnlyList<StagePlan> plans, string name)
    {
        for (int i = 0; i < into.Length; i++)
        {
            into[i] = new StageWorker($"{name}{i}", plans[i], i, into.Length, _devices, _config,
                _options.Model.CheckpointDir, _options.Seed, _options.CommTimeoutMs, OnFault);
            if (i > 0)
                into[i - 1].Next = into[i];
        }
    }

    /// <summary>Runs <paramref name="requests"/> (all queued at the start, as the paper's offline evaluation) to
    /// completion under the schedule.</summary>
    /// <exception cref="ArgumentException">A request the model cannot run (naming its index).</exception>
    /// <exception cref="ExgException">The engine failed; the runner is unusable afterwards.</exception>
    public RunResult Run(IReadOnlyList<RunRequest> requests, IRunObserver? observer = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count == 0)
            throw new ArgumentException("no requests to run", nameof(requests));
        int maxPrompt = 0, maxNew = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            if (requests[i]?.Prompt is null)
                throw new ArgumentException($"request {i}: null request or prompt");
            maxPrompt = Math.Max(maxPrompt, requests[i].Prompt.Length);
            maxNew = Math.Max(maxNew, requests[i].MaxNewTokens);
        }
        var session = new RunSession(this, maxPrompt, maxNew, MeanSteps(requests), observer, record: true);
        foreach (RunRequest request in requests)
            session.Add(request);
        session.Complete();
        session.Execute(cancellation);
        return session.Result();
    }

    /// <summary>An online session (the engine API): requests are added while it runs on the caller's thread
    /// (<see cref="RunSession.Execute"/>) until <see cref="RunSession.Complete"/>; the caches are sized for prompts of
    /// at most <paramref name="maxPrompt"/> and <paramref name="maxNew"/> new tokens. It records no requests: a
    /// long-lived engine holds each one only until it finishes.</summary>
    internal RunSession OpenSession(int maxPrompt, int maxNew, double meanSteps, IRunObserver? observer)
    {
        var session = new RunSession(this, maxPrompt, maxNew, meanSteps, observer, record: false);
        session.CollectArrivals(waits: 2);   // a batch short of B_E waits up to 100 ms for more arrivals
        return session;
    }

    /// <summary>Checks one request against the model.</summary>
    internal void Validate(RunRequest request, int index)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Prompt is null || request.Prompt.Length == 0)
            throw new ArgumentException($"request {index}: the prompt is empty");
        if (request.MaxNewTokens < 1)
            throw new ArgumentException($"request {index}: max new tokens must be at least 1 (got {request.MaxNewTokens})");
        foreach (int token in request.Prompt)
            if (token < 0 || token >= _config.vocab_size)
                throw new ArgumentException($"request {index}: token id {token} is outside the vocabulary [0, {_config.vocab_size})");
        if (request.Prompt.Length + request.MaxNewTokens - 1 > _config.max_positions)
            throw new ArgumentException(
                $"request {index}: {request.Prompt.Length} prompt + {request.MaxNewTokens} new tokens exceed the model's {_config.max_positions} positions");
        // The stage thread samples: options it cannot use would fail the whole run there, not just this request.
        if (request.Sampling?.Problem() is { } problem)
            throw new ArgumentException($"request {index}: {problem}");
    }

    private static double MeanSteps(IReadOnlyList<RunRequest> requests)
    {
        double sum = 0;
        foreach (RunRequest r in requests) sum += r.MaxNewTokens - 1;
        return sum / requests.Count;
    }

    // ---- shared by the policies -------------------------------------------------------------------------

    /// <summary>Samples each row's next token from the last stage's logits (its thread), records it, and packs the
    /// rows that go on into [0, live). Finished rows leave at once — their slot freed here and queued for the other
    /// stages — unless <see cref="MicroBatch.KeepFinished"/> (static batching pads them until the batch ends). Logits
    /// the step kept on the device (<see cref="MicroBatch.LogitsOnDevice"/>) are sampled there, all rows at once.</summary>
    private int SampleRows(MicroBatch mb, StageWorker last)
    {
        int liveRequests = 0;
        long now = Stopwatch.GetTimestamp();
        int vocab = _config.vocab_size;
        bool onDevice = mb.LogitsOnDevice;
        ReadOnlySpan<float> logits = onDevice ? default : mb.Logits(0);
        if (onDevice && mb.Rows > 0)
            last.SampleOnDevice(mb);
        Span<int> token = stackalloc int[1];
        int live = 0, rows = mb.Rows;
        if (!mb.Prefill)
        {
            Interlocked.Add(ref _decodeRows, rows);
            Interlocked.Increment(ref _decodeSteps);
        }
        for (int row = 0; row < rows; row++)
        {
            RequestState? request = mb.Request[row];
            int next = mb.TokenIds[row];
            if (request is not null)
            {
                if (onDevice)
                    next = mb.Sampled[row];
                else
                {
                    Sampler.Sample(logits.Slice(row * vocab, vocab), 1, vocab, request.Sampling, request.RngSpan, token);
                    next = token[0];
                }
                bool done = request.Cancelled || request.Record(next, _options.EosTokenId, now);
                if (done)
                {
                    if (!mb.KeepFinished)
                    {
                        FinishRequest(request, now);
                        int slot = mb.Slots(last.Index)[row];
                        if (slot >= 0)
                            last.FreeSlot(slot);
                        mb.QueueFree(row, last.Index);
                        if (mb.Staged[row] is { } staged)
                        {
                            mb.Staged[row] = null;
                            _staging!.Return(staged);
                        }
                        continue;
                    }
                    mb.Request[row] = null;   // padding from now on; finished with its batch
                }
            }
            liveRequests += mb.Request[row] is null ? 0 : 1;
            mb.MoveRow(row, live);
            mb.TokenIds[live] = next;
            live++;
        }
        mb.Rows = live;
        mb.Tokens = live;
        mb.Prefill = false;
        return liveRequests;
    }

    private void FinishRequest(RequestState request, long now)
    {
        request.Finish(now);
        Interlocked.Increment(ref _finishedCount);
    }

    /// <summary>Fills a prefill micro-batch with the prompts of <paramref name="batch"/>[from, to).</summary>
    private static void FillPrefill(MicroBatch mb, List<RequestState> batch, int from, int to, Func<RequestState, StagedKv?> staged)
    {
        mb.Rows = 0;
        mb.Prefill = true;
        mb.KeepFinished = false;
        int tokens = 0;
        for (int i = from; i < to; i++)
        {
            RequestState request = batch[i];
            int[] prompt = request.Request.Prompt;
            mb.AddRow(request, -1, prompt.Length, staged(request));
            prompt.CopyTo(mb.TokenIds[tokens..]);
            tokens += prompt.Length;
        }
        mb.Tokens = tokens;
    }

    /// <summary>The first failure of a stage: remembered, every collective aborted and every waiter woken.</summary>
    private void OnFault(Exception failure)
    {
        lock (_signal)
        {
            if (_fault is null || (RootCause.IsCollectiveFailure(_fault) && !RootCause.IsCollectiveFailure(failure)))
                _fault = failure;
            Monitor.PulseAll(_signal);
        }
        _logger.LogError(failure, "XRunner: a stage failed");
        foreach (StageWorker stage in _stages.Concat(_encoders))
            stage?.Abort();
        _activeSession?.Abort();
        // A controller waiting for a staging buffer that a dropped micro-batch will never return must wake too.
        Volatile.Read(ref _staging)?.Close();
    }

    private RunSession? _activeSession;

    private void ThrowIfFaulted()
    {
        Exception? fault = Volatile.Read(ref _fault);
        if (fault is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(fault).Throw();
    }

    /// <summary>Waits (woken by <see cref="Signal"/>) until <paramref name="done"/> holds or a stage fails.</summary>
    private void WaitUntil(Func<bool> done)
    {
        lock (_signal)
        {
            while (!done() && _fault is null)
                Monitor.Wait(_signal, 200);
        }
        ThrowIfFaulted();
    }

    private void Signal()
    {
        lock (_signal)
            Monitor.PulseAll(_signal);
    }

    /// <summary>Test hook: makes (stage, rank) of the pipeline (WAA: the decoders; <paramref name="encoder"/>: the
    /// encoders) fail its <paramref name="step"/>-th step.</summary>
    internal void InjectFailure(int stage, int rank, int step, bool encoder = false) =>
        (encoder ? _encoders : _stages)[stage].InjectFailure(rank, step);

    /// <summary>Stops every stage thread and releases shards, caches and backends.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (StageWorker? stage in _stages.Concat(_encoders))
            stage?.Dispose();
        foreach (Backend? device in _devices)
            device?.Dispose();
    }
}
