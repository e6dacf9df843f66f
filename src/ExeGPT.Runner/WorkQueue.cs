namespace ExeGPT.Runner;

/// <summary>A blocking FIFO: handing a micro-batch from one stage thread to the next allocates nothing in steady state
/// (a <see cref="Queue{T}"/> under a monitor; BlockingCollection and Channel both may allocate).</summary>
internal sealed class WorkQueue<T> where T : class
{
    private readonly Queue<T> _items = new(16);
    private bool _closed;

    public void Add(T item)
    {
        lock (_items)
        {
            _items.Enqueue(item);
            Monitor.Pulse(_items);
        }
    }

    /// <summary>Waits for the next item; false once the queue is closed and empty.</summary>
    public bool Take(out T item)
    {
        lock (_items)
        {
            while (_items.Count == 0 && !_closed)
                Monitor.Wait(_items);
            return _items.TryDequeue(out item!);
        }
    }

    /// <summary>Wakes the consumer for good once the remaining items are taken.</summary>
    public void Close()
    {
        lock (_items)
        {
            _closed = true;
            Monitor.PulseAll(_items);
        }
    }
}
