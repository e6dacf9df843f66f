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

        var whole = new exg_kv_part { struct_size = (uint)sizeof(exg_kv_part) };
        using (handle.Lease())
            Check(exg_kv_cache_whole_part(handle.Pointer, &whole));
        Whole = new KvPart(whole.layer_begin, whole.layer_end, whole.head_begin, whole.head_end);
    }

    internal KvCacheHandle Handle { get; }

    internal Model Model { get; }

    public int MaxSlots { get; }

    public int MaxSeqLen { get; }

    /// <summary>The layers and heads (absolute model indices) this cache holds: its shard's.</summary>
    public KvPart Whole { get; }

    public int LayerBegin => Whole.LayerBegin;

    public int LayerEnd => Whole.LayerEnd;

    public int HeadBegin => Whole.HeadBegin;

    public int HeadEnd => Whole.HeadEnd;

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

    /// <summary>Bytes <see cref="ExportTo"/> writes for <paramref name="slot"/>.</summary>
    public ulong ExportSize(int slot)
    {
        ulong bytes;
        using var lease = Handle.Lease();
        Check(exg_kv_cache_export_size(Handle.Pointer, slot, &bytes));
        return bytes;
    }

    /// <summary>Serialises one sequence's keys and values (the WAA hand-off) into a new array.</summary>
    /// <remarks>Allocates; the runner's hand-off uses <see cref="ExportTo"/> into a <see cref="HostBuffer"/>.</remarks>
    public byte[] Export(int slot)
    {
        var size = ExportSize(slot);
        if (size > (ulong)Array.MaxLength)
            throw new InvalidOperationException($"Slot {slot} exports {size} bytes, more than an array holds; use ExportTo with a HostBuffer.");
        var bytes = new byte[size];
        var written = ExportTo(slot, bytes);
        return written == (ulong)bytes.Length ? bytes : bytes[..(int)written];
    }

    /// <summary>Serialises the whole of one sequence (<see cref="Whole"/>) into <paramref name="destination"/> without allocating; returns the bytes written.</summary>
    /// <exception cref="ExgException">EXG_ERR_CAPACITY when <paramref name="destination"/> is smaller than <see cref="ExportSize"/>.</exception>
    public ulong ExportTo(int slot, Span<byte> destination)
    {
        ulong written;
        using var lease = Handle.Lease();
        fixed (byte* dst = destination)
            Check(exg_kv_cache_export(Handle.Pointer, slot, dst, (ulong)destination.Length, &written));
        return written;
    }

    /// <summary>Bytes <see cref="ExportPartTo"/> writes for <paramref name="part"/> of <paramref name="slot"/>.</summary>
    /// <exception cref="ExgException">EXG_ERR_INVALID_ARGUMENT when <paramref name="part"/> is empty or not inside <see cref="Whole"/>.</exception>
    public ulong ExportPartSize(int slot, KvPart part)
    {
        var native = ToNative(part);
        ulong bytes;
        using var lease = Handle.Lease();
        Check(exg_kv_cache_export_part_size(Handle.Pointer, slot, &native, &bytes));
        return bytes;
    }

    /// <summary>
    /// Serialises <paramref name="part"/> of one sequence into <paramref name="destination"/> (typically a pinned
    /// <see cref="HostBuffer"/>) without allocating; returns the bytes written.
    /// </summary>
    /// <exception cref="ExgException">
    /// EXG_ERR_INVALID_ARGUMENT when <paramref name="part"/> is empty or not inside <see cref="Whole"/>; EXG_ERR_CAPACITY
    /// when <paramref name="destination"/> is smaller than <see cref="ExportPartSize"/>.
    /// </exception>
    public ulong ExportPartTo(int slot, KvPart part, Span<byte> destination)
    {
        var native = ToNative(part);
        ulong written;
        using var lease = Handle.Lease();
        fixed (byte* dst = destination)
            Check(exg_kv_cache_export_part(Handle.Pointer, slot, &native, dst, (ulong)destination.Length, &written));
        return written;
    }

    /// <summary>
    /// Writes an exported blob's rows into an allocated slot and sets the slot's length. The blob may come from any
    /// shard as long as its layers and heads lie inside <see cref="Whole"/>. A blob covering <see cref="Whole"/>
    /// replaces the slot; smaller parts of one sequence (all with the same length) fill it piece by piece, so import
    /// them into a freshly allocated slot.
    /// </summary>
    /// <exception cref="ExgException">
    /// EXG_ERR_FORMAT when the blob is truncated, not a KV blob, or holds layers, heads or a head size this cache does
    /// not; EXG_ERR_INVALID_ARGUMENT when a part's length disagrees with what the slot already holds.
    /// </exception>
    public void Import(int slot, ReadOnlySpan<byte> bytes)
    {
        using var lease = Handle.Lease();
        fixed (byte* src = bytes)
            Check(exg_kv_cache_import(Handle.Pointer, slot, src, (ulong)bytes.Length));
    }

    private static exg_kv_part ToNative(KvPart part) => new()
    {
        struct_size = (uint)sizeof(exg_kv_part),
        layer_begin = part.LayerBegin,
        layer_end = part.LayerEnd,
        head_begin = part.HeadBegin,
        head_end = part.HeadEnd,
    };

    /// <summary>Releases the cache; the model is released too if it was disposed before.</summary>
    public void Dispose() => Handle.Dispose();
}
