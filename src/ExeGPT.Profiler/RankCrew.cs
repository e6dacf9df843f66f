using System.Runtime.ExceptionServices;

namespace ExeGPT.Profiler;

/// <summary>One dedicated thread per rank, all running the same piece of work at once: the ranks of a TP group
/// must run concurrently (their collectives wait for each other), and every rank of the host is kept busy so a
/// rank is timed while its neighbours compute, as in the runner.</summary>
internal sealed class RankCrew : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier _start, _finish;
    private readonly Exception?[] _failures;
    private readonly long[] _failedAt;
    private long _clock;
    private readonly Action<int> _onFailure;
    private Action<int>? _work;
    private volatile bool _stopping;

    /// <param name="ranks">Threads, one per rank.</param>
    /// <param name="onFailure">Called on a failing rank's thread, so peers waiting in a collective are released
    /// (abort their communicator) instead of waiting for its timeout.</param>
    public RankCrew(int ranks, Action<int> onFailure)
    {
        _onFailure = onFailure;
        _failures = new Exception?[ranks];
        _failedAt = new long[ranks];
        // The caller joins both barriers: it starts a step and waits for its end without spinning a thread of its own.
        _start = new Barrier(ranks + 1);
        _finish = new Barrier(ranks + 1);
        _threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            _threads[r] = new Thread(Loop) { IsBackground = true, Name = $"xprofiler-rank{r}" };
            _threads[r].Start(r);
        }
    }

    public int Ranks => _threads.Length;

    /// <summary>Runs <paramref name="work"/>(rank) on every rank at once and returns when all are done; rethrows the
    /// first failure in time (peers released by the abort fail after it, with a less useful message).</summary>
    public void Run(Action<int> work)
    {
        _work = work;
        Array.Clear(_failures);
        _start.SignalAndWait();
        _finish.SignalAndWait();
        _work = null;
        int first = -1;
        for (int r = 0; r < _failures.Length; r++)
            if (_failures[r] is not null && (first < 0 || _failedAt[r] < _failedAt[first]))
                first = r;
        if (first >= 0)
            ExceptionDispatchInfo.Capture(_failures[first]!).Throw();
    }

    private void Loop(object? state)
    {
        int rank = (int)state!;
        while (true)
        {
            _start.SignalAndWait();
            if (_stopping)
                return;
            try
            {
                _work!(rank);
            }
            catch (Exception e)
            {
                _failures[rank] = e;
                _failedAt[rank] = Interlocked.Increment(ref _clock);
                try { _onFailure(rank); } catch (Exception) { /* the rank's own failure is the one to report */ }
            }
            _finish.SignalAndWait();
        }
    }

    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        _start.SignalAndWait();
        foreach (Thread t in _threads)
            t.Join();
        _start.Dispose();
        _finish.Dispose();
    }
}
