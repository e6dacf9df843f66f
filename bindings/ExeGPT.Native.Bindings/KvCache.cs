using ExeGPT.Native.Handles;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>Per-sequence key/value slots of one model shard.</summary>
public sealed unsafe class KvCache : IDisposable
{
    /// <param name="model">The shard the cache serves; it stays alive (natively) while the cache does.</param>
    /// <param name="maxSlots">Sequences that can be live at once.</param>
    /// <param name="maxSeqLen">Tokens per slot; at most the model's max_positions.</param>
    public KvCache(Model model, int maxSlots, int maxSeqLen)
    {
        ArgumentNullException.ThrowIfNull(model);
        NativeLibraryLoader.EnsureLoaded();
        var handle = new KvCacheHandle();
        var parameters = new exg_kv_cache_params
        {
            struct_size = (uint)sizeof(exg_kv_cache_params),
            max_slots = maxSlots,
            max_seq_len = maxSeqLen,
        };
        exg_kv_cache* native;
        using (model.Handle.Lease())
            Check(exg_kv_cache_create(model.Handle.Pointer, &parameters, &native));
        handle.Attach((nint)native, model.Handle);
        Handle = handle;
        Model = model;
        MaxSlots = maxSlots;
        MaxSeqLen = maxSeqLen;
    }

    internal KvCacheHandle Handle { get; }

    internal Model Model { get; }

    public int MaxSlots { get; }

    public int MaxSeqLen { get; }

    /// <summary>Takes the lowest free slot (length 0).</summary>
    /// <exception cref="ExgException">EXG_ERR_CAPACITY when every slot is taken.</exception>
    public int AllocSlot()
    {
        int slot;
        using var lease = Handle.Lease();
        Check(exg_kv_cache_alloc_slot(Handle.Pointer, &slot));
        return slot;
    }

    public void FreeSlot(int slot)
    {
        using var lease = Handle.Lease();
        Check(exg_kv_cache_free_slot(Handle.Pointer, slot));
    }

    /// <summary>Tokens cached in <paramref name="slot"/>.</summary>
    public int SeqLen(int slot)
    {
        int length;
        using var lease = Handle.Lease();
        Check(exg_kv_cache_seq_len(Handle.Pointer, slot, &length));
        return length;
    }

    /// <summary>
    /// Moves live slots down to 0..live-1 keeping their order; <c>newSlotOf[old]</c> receives each old slot's new slot,
    /// -1 for free ones. Returns the number of live slots.
    /// </summary>
    /// <param name="newSlotOf">At least <see cref="MaxSlots"/> entries; only the first <see cref="MaxSlots"/> are written.</param>
    public int Compact(Span<int> newSlotOf)
    {
        if (newSlotOf.Length < MaxSlots)
            throw new ArgumentException($"newSlotOf has {newSlotOf.Length} entries; the cache has {MaxSlots} slots.", nameof(newSlotOf));
        int live;
        using var lease = Handle.Lease();
        fixed (int* map = newSlotOf)
            Check(exg_kv_cache_compact(Handle.Pointer, map, MaxSlots, &live));
        return live;
    }

    /// <summary>Bytes <see cref="Export(int)"/> produces for <paramref name="slot"/>.</summary>
    public ulong ExportSize(int slot)
    {
        ulong bytes;
        using var lease = Handle.Lease();
        Check(exg_kv_cache_export_size(Handle.Pointer, slot, &bytes));
        return bytes;
    }

    /// <summary>Serialises one sequence's keys and values (the WAA hand-off) into a new array.</summary>
    public byte[] Export(int slot)
    {
        var size = ExportSize(slot);
        if (size > (ulong)Array.MaxLength)
            throw new InvalidOperationException($"Slot {slot} exports {size} bytes, more than an array holds; use Export(int, Span<byte>) with native memory.");
        var bytes = new byte[size];
        var written = Export(slot, bytes);
        return written == bytes.Length ? bytes : bytes[..written];
    }

    /// <summary>Serialises one sequence into <paramref name="destination"/>; returns the bytes written.</summary>
    /// <exception cref="ExgException">EXG_ERR_CAPACITY when <paramref name="destination"/> is smaller than <see cref="ExportSize"/>.</exception>
    public int Export(int slot, Span<byte> destination)
    {
        ulong written;
        using var lease = Handle.Lease();
        fixed (byte* dst = destination)
            Check(exg_kv_cache_export(Handle.Pointer, slot, dst, (ulong)destination.Length, &written));
        return (int)written;
    }

    /// <summary>Replaces the contents of an allocated slot with bytes exported from a cache of the same shape.</summary>
    public void Import(int slot, ReadOnlySpan<byte> bytes)
    {
        using var lease = Handle.Lease();
        fixed (byte* src = bytes)
            Check(exg_kv_cache_import(Handle.Pointer, slot, src, (ulong)bytes.Length));
    }

    /// <summary>Releases the cache; the model is released too if it was disposed before.</summary>
    public void Dispose() => Handle.Dispose();
}
