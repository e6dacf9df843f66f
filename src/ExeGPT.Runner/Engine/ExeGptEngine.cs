using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ExeGPT.Native;
using ExeGPT.Native.Interop;
using ExeGPT.Simulator;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ExeGPT.Runner;

/// <summary>
/// The serving front-end over <see cref="XRunner"/>: requests arrive at any time from any thread, run under the
/// layout's schedule (RRA, WAA or a baseline) and stream their tokens back as they are sampled.
/// <para>The engine owns one runner and one online session, whose policy loop runs on a dedicated thread; the KV
/// caches are sized once from <see cref="EngineLimits"/>. A bad request is refused at
/// <see cref="Submit(EngineRequest, CancellationToken)"/> and the engine serves on. A stage failure ends the engine:
/// every request still waiting or running faults with the failure's root cause, and later submissions throw
/// <see cref="InvalidOperationException"/>.</para>
/// <para>Stopping (<see cref="StopAsync"/>, <see cref="Dispose"/>, <see cref="DisposeAsync"/>) refuses new requests,
/// lets the submitted ones finish — or, past <see cref="StopAsync"/>'s drain timeout, cancels them (they complete
/// with <see cref="RequestMetrics.Cancelled"/> set) — then stops the runner.</para>
/// </summary>
public sealed partial class ExeGptEngine : IDisposable, IAsyncDisposable
{
    private readonly XRunner _runner;
    private readonly XRunner.RunSession _session;
    private readonly exg_model_config _config;
    private readonly int? _eosTokenId;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _served = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Requests submitted and not yet ended: a failure or a drain timeout reaches them through here.
    private readonly ConcurrentDictionary<RequestStream, byte> _live = new();
    private readonly Action<RequestStream> _ended;
    private readonly object _gate = new();
    private bool _stopping, _disposed;
    private Exception? _failure;
    private int _released;

    /// <summary>Builds the layout's stages (as <see cref="XRunner"/> does) and starts serving.</summary>
    /// <exception cref="ArgumentException">The limits do not fit the model.</exception>
    /// <exception cref="ExgException">The engine rejected the model, checkpoint or sharding.</exception>
    public ExeGptEngine(ExecutionLayout layout, RunnerOptions options, EngineLimits limits, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(limits);
        _config = options.Model.Config;
        limits.Validate(_config);
        Limits = limits;
        _eosTokenId = options.EosTokenId;
        _logger = logger ?? NullLogger.Instance;
        _ended = stream => _live.TryRemove(stream, out _);
        _runner = new XRunner(layout, options, logger);
        try
        {
            _session = _runner.OpenSession(limits.MaxPromptTokens, limits.MaxNewTokens, limits.MeanDecodeSteps, observer: null);
            _thread = new Thread(Serve) { IsBackground = true, Name = "exegpt-engine" };
            _thread.Start();
        }
        catch
        {
            _runner.Dispose();
            throw;
        }
        _logger.LogInformation("ExeGptEngine: serving {Schedule}, prompts up to {Prompt} tokens, up to {New} new tokens",
            layout.Schedule, limits.MaxPromptTokens, limits.MaxNewTokens);
    }

    /// <summary>The stages the engine runs on.</summary>
    public ExecutionLayout Layout => _runner.Layout;

    /// <summary>What a request may ask for.</summary>
    public EngineLimits Limits { get; }

    /// <summary>Requests submitted that have not ended yet (queued or running).</summary>
    public int ActiveRequests => _live.Count;

    /// <summary>Queues a request and returns at once with its handle; its tokens stream back as they are sampled.
    /// Cancelling <paramref name="cancellation"/> cancels the request (as <see cref="GenerationHandle.Cancel"/>).</summary>
    /// <exception cref="ArgumentException">The request is malformed or exceeds <see cref="Limits"/> (the message names
    /// what); the engine serves on.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was already cancelled.</exception>
    /// <exception cref="InvalidOperationException">The engine failed (the inner exception is the root cause) or is
    /// stopping.</exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public GenerationHandle Submit(EngineRequest request, CancellationToken cancellation = default) => Submit(request, null, cancellation);

    /// <summary><see cref="Submit(EngineRequest, CancellationToken)"/> with a test hook that runs on the stage thread after
    /// each token (to cancel, or hold the pipeline, at an exact token).</summary>
    internal GenerationHandle Submit(EngineRequest request, Action<int>? tokenHook, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellation.ThrowIfCancellationRequested();
        // The runner reads the prompt later, on its own thread: keep a copy the caller cannot change meanwhile.
        var run = new RunRequest(request.PromptTokens?.ToArray()!, request.MaxNewTokens, request.Sampling);
        Validate(run);
        var stream = new RequestStream(run.MaxNewTokens, _eosTokenId, _ended, tokenHook);
        RequestState state;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_failure is not null)
                throw new InvalidOperationException($"The engine failed and takes no more requests: {_failure.Message}", _failure);
            if (_stopping)
                throw new InvalidOperationException("The engine is stopping and takes no more requests.");
            state = _session.Add(run, stream);
            // Registered before the state is attached: a request that already finished is then removed, not leaked.
            _live.TryAdd(stream, 0);
            stream.Attach(state);
        }
        var handle = new GenerationHandle(stream, () => _session.Cancel(state));
        if (cancellation.CanBeCanceled)
            stream.Hold(cancellation.Register(handle.Cancel), cancellation);
        return handle;
    }

    /// <summary>Submits <paramref name="request"/> when enumeration begins (so its <see cref="ArgumentException"/> or
    /// <see cref="InvalidOperationException"/> comes from the first <c>MoveNextAsync</c>) and yields its tokens as they
    /// are sampled. Cancelling <paramref name="cancellation"/>, or leaving the enumeration early, cancels the request
    /// and frees its slot; a cancelled enumeration throws <see cref="OperationCanceledException"/>.</summary>
    public async IAsyncEnumerable<int> GenerateAsync(EngineRequest request, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        GenerationHandle handle = Submit(request, cancellation);
        bool ended = false;
        try
        {
            // The token also stops the wait for the next token: a queued request's cancellation is only acknowledged
            // when the runner next forms a batch, and the caller should not wait for that.
            await foreach (int token in handle.Tokens.WithCancellation(cancellation).ConfigureAwait(false))
                yield return token;
            ended = true;
        }
        finally
        {
            if (!ended)
                handle.Cancel();
            // The caller saw any failure on the stream; the completion (set by now when the stream ended) is not theirs to
            // observe, so it must not be reported as an unobserved task exception.
            if (handle.Completion.IsFaulted)
                _ = handle.Completion.Exception;
        }
    }

    /// <summary>Test hook: makes (stage, rank) fail its <paramref name="step"/>-th step (see <see cref="XRunner.InjectFailure"/>).</summary>
    internal void InjectFailure(int stage, int rank, int step, bool encoder = false) => _runner.InjectFailure(stage, rank, step, encoder);

    /// <summary>Refuses new requests and waits for the submitted ones to finish; after <paramref name="drainTimeout"/>
    /// (null: no limit) it cancels those still queued or running, which then end at their next pass. Then the runner
    /// stops. A failed engine stops at once.</summary>
    public async Task StopAsync(TimeSpan? drainTimeout = null)
    {
        BeginStop();
        if (drainTimeout is TimeSpan timeout)
        {
            try
            {
                await _served.Task.WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _logger.LogWarning("ExeGptEngine: {Count} requests still running after the {Timeout} drain; cancelling them",
                    _live.Count, timeout);
                foreach (RequestStream stream in _live.Keys)
                    if (stream.State is { } state)
                        _session.Cancel(state);
            }
        }
        await _served.Task.ConfigureAwait(false);
        ReleaseRunner();
    }

    /// <summary>Stops as <see cref="StopAsync"/> with no drain limit: every submitted request finishes first.</summary>
    public void Dispose()
    {
        lock (_gate)
            _disposed = true;
        BeginStop();
        _thread.Join();
        ReleaseRunner();
    }

    /// <summary>Stops as <see cref="StopAsync"/> with no drain limit: every submitted request finishes first.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
            _disposed = true;
        await StopAsync().ConfigureAwait(false);
    }

    private void BeginStop()
    {
        lock (_gate)
        {
            if (_stopping)
                return;
            _stopping = true;
        }
        // The session ends once the queue drains and every request is done.
        _session.Complete();
    }

    private void ReleaseRunner()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
            _runner.Dispose();
    }

    /// <summary>The engine thread: the session's policy loop until it is completed and drained, or a stage fails.</summary>
    private void Serve()
    {
        Exception? failure = null;
        try
        {
            _session.Execute(CancellationToken.None);
        }
        catch (Exception e)
        {
            failure = e;
        }
        lock (_gate)
            _failure = failure;
        if (failure is not null)
            _logger.LogError(failure, "ExeGptEngine: the run failed; failing {Count} waiting requests", _live.Count);
        // Requests submitted before the failure was published are all in _live by now (Submit adds under the gate).
        // After a clean drain none should be left; if one is, it must not wait forever.
        Exception leftover = failure ?? new InvalidOperationException("The engine stopped before the request finished.");
        foreach (RequestStream stream in _live.Keys)
            stream.Fail(leftover);
        _served.TrySetResult();
    }
}
