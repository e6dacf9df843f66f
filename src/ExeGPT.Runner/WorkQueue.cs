namespace ExeGPT.Runner;

/// <summary>A blocking FIFO over a ring that grows only when full: handing a micro-batch from one stage
/// thread to the next allocates nothing in steady state (BlockingCollection and Channel both may).</summary>
internal sealed class WorkQueue<T> where T : class
{
    private readonly object _gate = new();
    private T?[] _ring = new T?[16];
    private int _head, _count;
    private bool _closed;

    public void Add(T item)
    {
        lock (_gate)
        {
            if (_count == _ring.Length)
            {
                var bigger = new T?[_ring.Length * 2];
                for (int i = 0; i < _count; i++)
                    bigger[i] = _ring[(_head + i) % _ring.Length];
                _ring = bigger;
                _head = 0;
            }
            _ring[(_head + _count) % _ring.Length] = item;
            _count++;
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Waits for the next item; false once the queue is closed and empty.</summary>
    public bool Take(out T item)
    {
        lock (_gate)
        {
            while (_count == 0 && !_closed)
                Monitor.Wait(_gate);
            if (_count == 0)
            {
                item = null!;
                return false;
            }
            item = _ring[_head]!;
            _ring[_head] = null;
            _head = (_head + 1) % _ring.Length;
            _count--;
            return true;
        }
    }

    /// <summary>Wakes the consumer for good once the remaining items are taken.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
