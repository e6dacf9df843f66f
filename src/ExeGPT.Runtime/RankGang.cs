using System.Runtime.ExceptionServices;

namespace ExeGPT.Runtime;

/// <summary>
/// Runs one piece of work on every TP rank at once: rank 0 on the caller's thread, the others on
/// dedicated threads that live as long as the gang. The ranks must run concurrently because their
/// collectives wait for each other. A step signals through reused semaphores and a countdown, so
/// the decode loop allocates nothing.
/// </summary>
internal sealed class RankGang : IDisposable
{
    private readonly Action<int> _body;
    private readonly Action<int, Exception> _onFailure;
    private readonly Thread[] _workers;        // rank i + 1
    private readonly SemaphoreSlim[] _start;   // rank i + 1
    private readonly CountdownEvent _finished;
    private readonly Exception?[] _failures;   // per rank, for the current step
    private readonly long[] _failureOrder;     // when each rank failed, to find the first
    private long _failureClock;
    private volatile bool _stopping;
    private bool _disposed;

    /// <param name="size">Ranks in the gang.</param>
    /// <param name="body">The work of one rank; receives the rank.</param>
    /// <param name="onFailure">Called on the failing rank's thread as soon as it fails, so the
    /// peers can be released (abort the communicator) before they time out.</param>
    /// <param name="name">Thread name prefix.</param>
    public RankGang(int size, Action<int> body, Action<int, Exception> onFailure, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _body = body;
        _onFailure = onFailure;
        _failures = new Exception?[size];
        _failureOrder = new long[size];
        _finished = new CountdownEvent(0);
        _start = new SemaphoreSlim[size - 1];
        _workers = new Thread[size - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _start[i] = new SemaphoreSlim(0);
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"{name}-rank{i + 1}" };
            _workers[i].Start(i + 1);
        }
    }

    public int Size => _failures.Length;

    /// <summary>Runs the body on every rank and returns when all are done; rethrows the root cause
    /// (see <see cref="RootCause"/>) when any failed. Not reentrant.</summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Array.Clear(_failures);
        if (_workers.Length > 0)
        {
            _finished.Reset(_workers.Length);
            foreach (SemaphoreSlim start in _start)
                start.Release();
        }
        RunRank(0);
        if (_workers.Length > 0)
            _finished.Wait();
        ThrowIfAnyFailed();
    }

    private void WorkerLoop(object? state)
    {
        int rank = (int)state!;
        SemaphoreSlim start = _start[rank - 1];
        while (true)
        {
            start.Wait();
            if (_stopping)
                return;
            RunRank(rank);
            _finished.Signal();
        }
    }

    private void RunRank(int rank)
    {
        try
        {
            _body(rank);
        }
        catch (Exception failure)
        {
            _failures[rank] = failure;
            _failureOrder[rank] = Interlocked.Increment(ref _failureClock);
            try
            {
                _onFailure(rank, failure);
            }
            catch (Exception handlerFailure)
            {
                // The rank's own failure stays the one reported; keep the handler's for diagnosis.
                _failures[rank] = new AggregateException(failure, handlerFailure);
            }
        }
    }

    private void ThrowIfAnyFailed()
    {
        int failed = 0;
        foreach (Exception? failure in _failures)
            failed += failure is null ? 0 : 1;
        if (failed == 0)
            return;

        var ordered = Enumerable.Range(0, _failures.Length)
            .Where(rank => _failures[rank] is not null)
            .OrderBy(rank => _failureOrder[rank])
            .Select(rank => _failures[rank]!);
        ExceptionDispatchInfo.Capture(RootCause.Select(ordered)).Throw();
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _stopping = true;
        foreach (SemaphoreSlim start in _start)
            start.Release();
        foreach (Thread worker in _workers)
            worker.Join();
        foreach (SemaphoreSlim start in _start)
            start.Dispose();
        _finished.Dispose();
    }
}
