namespace ExeGPT.Runner;

/// <summary>Requests waiting to be encoded, in arrival order. The encoder side takes batches through a
/// <see cref="WorkloadAdjuster"/>; <see cref="Take"/> blocks until a request arrives or the queue is
/// completed (no more arrivals) or closed (the run failed or stopped).</summary>
internal sealed class PendingQueue
{
    private readonly List<RequestState> _queue = [];
    private readonly List<int> _passedOver = [];
    private int[] _lengths = new int[64], _skips = new int[64], _picked = new int[64];
    private bool _completed, _closed;

    public void Add(RequestState request)
    {
        lock (_queue)
        {
            if (_completed)
                throw new InvalidOperationException("the run takes no more requests");
            _queue.Add(request);
            _passedOver.Add(0);
            Monitor.PulseAll(_queue);
        }
    }

    /// <summary>True once <see cref="Complete"/> was called.</summary>
    public bool IsCompleted
    {
        get { lock (_queue) return _completed; }
    }

    /// <summary>No more arrivals: <see cref="Take"/> returns empty once the queue drains.</summary>
    public void Complete()
    {
        lock (_queue)
        {
            _completed = true;
            Monitor.PulseAll(_queue);
        }
    }

    /// <summary>Stops waiting takers for good.</summary>
    public void Close()
    {
        lock (_queue)
        {
            _closed = true;
            Monitor.PulseAll(_queue);
        }
    }

    /// <summary>Fills <paramref name="batch"/> with the next encoder batch (<paramref name="fixedSize"/> &gt; 0: exactly
    /// that many in arrival order, as static batching does; otherwise the adjuster's pick); false when the queue
    /// is completed and empty, or closed, or (<paramref name="wait"/> false: work is running that must not stall)
    /// empty right now. Cancelled requests are dropped here.</summary>
    public bool Take(WorkloadAdjuster adjuster, int fixedSize, int maxCount, List<RequestState> batch, Action<RequestState> dropCancelled,
        bool wait = true)
    {
        batch.Clear();
        lock (_queue)
        {
            int want = Math.Max(1, fixedSize > 0 ? fixedSize : adjuster.Batch), waits = ShortBatchWaits;
            while (true)
            {
                for (int i = _queue.Count - 1; i >= 0; i--)
                    if (_queue[i].Cancelled)
                    {
                        dropCancelled(_queue[i]);
                        _queue.RemoveAt(i);
                        _passedOver.RemoveAt(i);
                    }
                if (_closed)
                    return false;
                if (_queue.Count == 0)
                {
                    if (_completed || !wait)
                        return false;
                    Monitor.Wait(_queue);
                    continue;
                }
                if (_completed || !wait || _queue.Count >= want || waits-- <= 0)
                    break;
                Monitor.Wait(_queue, 50);   // online arrivals: give a short batch a moment to fill
            }
            int n = _queue.Count;
            if (_lengths.Length < n)
            {
                _lengths = new int[n * 2];
                _skips = new int[n * 2];
                _picked = new int[n * 2];
            }
            int count;
            if (fixedSize > 0)
            {
                count = Math.Min(Math.Min(fixedSize, maxCount), n);
                for (int i = 0; i < count; i++) _picked[i] = i;
            }
            else
            {
                for (int i = 0; i < n; i++)
                {
                    _lengths[i] = _queue[i].Request.Prompt.Length;
                    _skips[i] = _passedOver[i];
                }
                count = adjuster.Pick(_lengths.AsSpan(0, n), _skips.AsSpan(0, n), _picked, maxCount);
            }
            for (int k = 0; k < count; k++)
                batch.Add(_queue[_picked[k]]);
            // Everything before the last pick that was not picked was passed over once more.
            int last = count > 0 ? _picked[count - 1] : -1;
            for (int i = 0, k = 0; i <= last; i++)
            {
                if (k < count && _picked[k] == i) { k++; continue; }
                _passedOver[i]++;
            }
            for (int k = count - 1; k >= 0; k--)
            {
                _queue.RemoveAt(_picked[k]);
                _passedOver.RemoveAt(_picked[k]);
            }
            return true;
        }
    }

    /// <summary>Online sessions: how many 50 ms waits a batch short of B_E spends collecting arrivals before it
    /// goes anyway (offline runs complete the queue up front and never wait).</summary>
    public int ShortBatchWaits { get; set; }
}
