using ExeGPT.Native;

namespace ExeGPT.Runner;

/// <summary>One sequence's KV cache on its way from the encoder shards to the decoder shards (WAA): a
/// page-locked host buffer holding one blob per (decoder stage, TP rank, encoder stage) part, written by the
/// encoder stage threads and read by the decoder stage threads that import it. Reused through
/// <see cref="StagingPool"/>.</summary>
internal sealed class StagedKv : IDisposable
{
    private readonly HostBuffer _buffer;
    private readonly (int Stage, int Rank, int Offset, int Length)[] _parts;
    private int _used, _count, _importsLeft;

    public StagedKv(Backend backend, ulong bytes, int maxParts)
    {
        _buffer = HostBuffer.Allocate(backend, bytes);
        _parts = new (int, int, int, int)[maxParts];
    }

    /// <summary>Empties the buffer for a new sequence that <paramref name="importers"/> decoder shards read.</summary>
    public void Reset(int importers)
    {
        _used = 0;
        _count = 0;
        _importsLeft = importers;
    }

    /// <summary>Exports <paramref name="part"/> of <paramref name="slot"/> for decoder (stage, rank).</summary>
    public void Append(KvCache from, int slot, KvPart part, int stage, int rank)
    {
        Span<byte> free = _buffer.AsSpan<byte>()[_used..];
        int written = checked((int)from.ExportPartTo(slot, part, free));
        _parts[_count++] = (stage, rank, _used, written);
        _used += written;
    }

    /// <summary>Imports every part meant for decoder (stage, rank) into <paramref name="slot"/>; true when
    /// this was the last shard to import (the buffer can go back to the pool).</summary>
    public bool ImportInto(KvCache into, int slot, int stage, int rank)
    {
        ReadOnlySpan<byte> data = _buffer.AsSpan<byte>();
        for (int i = 0; i < _count; i++)
        {
            var (s, r, offset, length) = _parts[i];
            if (s == stage && r == rank)
                into.Import(slot, data.Slice(offset, length));
        }
        return Interlocked.Decrement(ref _importsLeft) == 0;
    }

    public void Dispose() => _buffer.Dispose();
}

/// <summary>Staging buffers sized for the longest prompt, handed out and returned across threads; a take
/// blocks while all are in flight (back-pressure on the encoders).</summary>
internal sealed class StagingPool : IDisposable
{
    private readonly Stack<StagedKv> _free = new();
    private readonly List<StagedKv> _all = [];
    private readonly Func<StagedKv> _create;
    private readonly int _limit;
    private bool _closed;

    public StagingPool(int limit, Func<StagedKv> create)
    {
        _limit = limit;
        _create = create;
    }

    public StagedKv Take()
    {
        lock (_free)
        {
            while (true)
            {
                if (_closed)
                    throw new OperationCanceledException("the run stopped");
                if (_free.Count > 0)
                    return _free.Pop();
                if (_all.Count < _limit)
                {
                    StagedKv created = _create();
                    _all.Add(created);
                    return created;
                }
                Monitor.Wait(_free);
            }
        }
    }

    public void Return(StagedKv staged)
    {
        lock (_free)
        {
            _free.Push(staged);
            Monitor.Pulse(_free);
        }
    }

    /// <summary>Fails waiting takers (the run failed).</summary>
    public void Close()
    {
        lock (_free)
        {
            _closed = true;
            Monitor.PulseAll(_free);
        }
    }

    public void Dispose()
    {
        foreach (StagedKv staged in _all)
            staged.Dispose();
    }
}
