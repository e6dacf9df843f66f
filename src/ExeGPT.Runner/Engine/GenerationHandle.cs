namespace ExeGPT.Runner;

/// <summary>A submitted request: its tokens as they are generated, its outcome, and a way to cancel it.</summary>
public sealed class GenerationHandle
{
    private readonly RequestStream _stream;
    private readonly Action _cancel;

    internal GenerationHandle(RequestStream stream, Action cancel)
    {
        _stream = stream;
        _cancel = cancel;
    }

    /// <summary>The generated token ids, each as soon as it is sampled (a single consumer may enumerate them; a second
    /// enumeration throws <see cref="InvalidOperationException"/>). The sequence ends when the request does; it
    /// throws <see cref="OperationCanceledException"/> after the last token when the request was cancelled, and the
    /// run's root-cause exception when the engine failed. Cancelling the enumeration stops reading, not the request:
    /// use <see cref="Cancel"/> for that.</summary>
    public IAsyncEnumerable<int> Tokens => _stream.ReadAsync();

    /// <summary>Completes with the request's metrics when it ends (with <see cref="RequestMetrics.Cancelled"/> set when
    /// it was cancelled, counting the tokens produced so far); faults with the run's root-cause exception when the
    /// engine failed.</summary>
    public Task<RequestMetrics> Completion => _stream.Completion;

    /// <summary>Cancels the request: it leaves the queue, or its row leaves its batch at the next pass, freeing its KV
    /// slots. No effect once it ended.</summary>
    public void Cancel() => _cancel();
}
