using ExeGPT.Native.Handles;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>One rank's communicator in a tensor-parallel group.</summary>
public sealed unsafe class Comm : IDisposable
{
    private Comm(CommHandle handle)
    {
        Handle = handle;
        Rank = exg_comm_rank(handle.Pointer);
        Size = exg_comm_size(handle.Pointer);
    }

    internal CommHandle Handle { get; }

    public int Rank { get; }

    public int Size { get; }

    /// <summary>
    /// Creates <paramref name="worldSize"/> communicators joined in one in-process group; element i is rank i.
    /// Each rank is meant to run on its own thread.
    /// </summary>
    /// <param name="worldSize">Ranks in the group.</param>
    /// <param name="timeoutMs">How long a collective waits for a peer before failing with EXG_ERR_COMM; 0 means 60 s.</param>
    public static Comm[] CreateHostGroup(int worldSize, uint timeoutMs = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        NativeLibraryLoader.EnsureLoaded();
        // Managed objects first, so nothing can fail between the native creation and taking ownership.
        var handles = new CommHandle[worldSize];
        for (var i = 0; i < worldSize; i++)
            handles[i] = new CommHandle();
        var natives = new exg_comm*[worldSize];
        fixed (exg_comm** output = natives)
            Check(exg_comm_create_host_group(worldSize, timeoutMs, output));
        for (var i = 0; i < worldSize; i++)
            handles[i].Attach((nint)natives[i]);
        return [.. handles.Select(h => new Comm(h))];
    }

    /// <summary>Replaces <paramref name="data"/> with its elementwise sum over all ranks; every rank must call it.</summary>
    /// <exception cref="ExgException">EXG_ERR_COMM when a peer timed out or the group was aborted.</exception>
    public void AllReduceSum(Span<float> data)
    {
        using var lease = Handle.Lease();
        fixed (float* values = data)
            Check(exg_comm_all_reduce_sum_f32(Handle.Pointer, values, (ulong)data.Length));
    }

    /// <summary>Fails every pending and future collective of the group (a rank gave up), so peers do not hang.</summary>
    public void Abort()
    {
        using var lease = Handle.Lease();
        exg_comm_abort(Handle.Pointer);
    }

    public void Dispose() => Handle.Dispose();
}
