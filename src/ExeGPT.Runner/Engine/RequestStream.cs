using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace ExeGPT.Runner;

/// <summary>
/// One engine request's outlet: the runner's stage threads push its tokens into an unbounded channel (never
/// blocking a stage, whatever the reader does) and report its end; the engine reports a failure instead. Exactly
/// one outcome wins — finished, cancelled or failed — and it is set before the channel completes, so a reader that
/// drained the channel always sees it.
/// </summary>
internal sealed class RequestStream : IRunObserver
{
    private readonly Channel<int> _tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource<RequestMetrics> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private readonly int _maxNewTokens;
    private readonly int? _eosTokenId;
    private readonly Action<RequestStream> _ended;
    private readonly Action<int>? _tokenHook;
    private RequestState? _state;
    private bool _finishedBeforeAttach, _done;
    private CancellationTokenRegistration _registration;
    private CancellationToken _cancelledBy;
    private int _lastToken = -1, _outcome, _readers;
    private bool _cancelled;
    private Exception? _failure;

    /// <param name="maxNewTokens">The request's token budget (reaching it is a complete request, not a cancelled one).</param>
    /// <param name="eosTokenId">The run's end-of-sequence token, likewise.</param>
    /// <param name="ended">Told once when the request ends, whatever the outcome.</param>
    /// <param name="tokenHook">Tests only: runs on the stage thread after each token is queued (to cancel or hold a
    /// request at an exact token).</param>
    public RequestStream(int maxNewTokens, int? eosTokenId, Action<RequestStream> ended, Action<int>? tokenHook = null)
    {
        _maxNewTokens = maxNewTokens;
        _eosTokenId = eosTokenId;
        _ended = ended;
        _tokenHook = tokenHook;
    }

    public Task<RequestMetrics> Completion => _completion.Task;

    /// <summary>The runner's state of this request, once the session queued it.</summary>
    public RequestState? State => Volatile.Read(ref _state);

    // A stage thread: the token goes to the channel at once (unbounded, so TryWrite only fails once completed).
    public void OnToken(int request, int token)
    {
        _lastToken = token;
        _tokens.Writer.TryWrite(token);
        _tokenHook?.Invoke(token);
    }

    // A stage thread (or the runner's, for a request cancelled while queued). The runner may finish a request
    // before Submit has attached its state; then Attach completes it.
    public void OnFinished(int request)
    {
        RequestState? state;
        lock (_gate)
        {
            state = _state;
            _finishedBeforeAttach = state is null;
        }
        if (state is not null)
            Finish(state);
    }

    /// <summary>Binds the runner's state (right after the session queued the request).</summary>
    public void Attach(RequestState state)
    {
        bool finished;
        lock (_gate)
        {
            _state = state;
            finished = _finishedBeforeAttach;
        }
        if (finished)
            Finish(state);
    }

    /// <summary>Keeps the caller's cancellation registration until the request ends (released then, so a long-lived
    /// token does not accumulate callbacks).</summary>
    public void Hold(CancellationTokenRegistration registration, CancellationToken token)
    {
        lock (_gate)
        {
            if (!_done)
            {
                _registration = registration;
                _cancelledBy = token;
                return;
            }
        }
        registration.Unregister();
    }

    /// <summary>The run failed: the stream and the completion fault with <paramref name="failure"/> (unless the request
    /// already ended).</summary>
    public void Fail(Exception failure)
    {
        if (Interlocked.Exchange(ref _outcome, 1) != 0)
            return;
        _failure = failure;
        End();
        _completion.TrySetException(failure);
        _tokens.Writer.TryComplete();
    }

    private void Finish(RequestState state)
    {
        if (Interlocked.Exchange(ref _outcome, 1) != 0)
            return;
        // A cancel that lands after the last token was recorded changes nothing: the request is complete.
        bool complete = state.Count == _maxNewTokens || (state.Count > 0 && _lastToken == _eosTokenId);
        _cancelled = state.Cancelled && !complete;
        RequestMetrics metrics = RequestMetrics.From(state, _cancelled);
        End();
        _completion.TrySetResult(metrics);
        _tokens.Writer.TryComplete();
    }

    // Order of an ending, so whoever sees one sign sees the earlier ones: no longer active, then the completion, then
    // the end of the stream (a reader that drained it finds the completion set).
    private void End()
    {
        CancellationTokenRegistration registration;
        lock (_gate)
        {
            _done = true;
            registration = _registration;
        }
        registration.Unregister();   // never waits for a running callback (Dispose would)
        _ended(this);
    }

    /// <summary>The tokens as they are sampled; ends as the request does: normally, with an
    /// <see cref="OperationCanceledException"/> when it was cancelled, or with the run's failure. One reader.</summary>
    public async IAsyncEnumerable<int> ReadAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        if (Interlocked.Exchange(ref _readers, 1) != 0)
            throw new InvalidOperationException("A request's tokens can be enumerated once.");
        ChannelReader<int> reader = _tokens.Reader;
        while (await reader.WaitToReadAsync(cancellation).ConfigureAwait(false))
            while (reader.TryRead(out int token))
            {
                // Tokens may be queued already; a cancelled reader stops at once rather than draining them.
                cancellation.ThrowIfCancellationRequested();
                yield return token;
            }
        // The channel completes last, after the outcome is set.
        if (_failure is not null)
            ExceptionDispatchInfo.Throw(_failure);
        if (_cancelled)
            throw new OperationCanceledException("The request was cancelled.", _cancelledBy.IsCancellationRequested ? _cancelledBy : default);
    }
}
