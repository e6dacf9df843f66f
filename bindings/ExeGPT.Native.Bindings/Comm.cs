using ExeGPT.Native.Handles;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>One rank's communicator in a tensor-parallel group.</summary>
public sealed unsafe class Comm : IDisposable
{
    // The library's timeout when a caller passes 0 (exegpt.h: "0: 60 s"); it also bounds a group's creation here.
    private const uint DefaultTimeoutMs = 60_000;

    private Comm(CommHandle handle, bool onDevice)
    {
        Handle = handle;
        Rank = exg_comm_rank(handle.Pointer);
        Size = exg_comm_size(handle.Pointer);
        IsDeviceCommunicator = onDevice;
    }

    internal CommHandle Handle { get; }

    public int Rank { get; }

    public int Size { get; }

    /// <summary>True for an NCCL communicator: its collectives run on the backend's device memory, inside the models'
    /// steps; <see cref="AllReduceSum"/> (host memory) is for host groups only.</summary>
    public bool IsDeviceCommunicator { get; }

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
        return [.. handles.Select(h => new Comm(h, onDevice: false))];
    }

    /// <summary>A fresh NCCL unique id (<see cref="NativeMethods.EXG_NCCL_UNIQUE_ID_BYTES"/> bytes): rank 0 of a group
    /// creates it and every rank passes it to <see cref="CreateNccl"/>.</summary>
    /// <exception cref="ExgException">NCCL cannot be loaded (EXG_ERR_UNSUPPORTED, naming the library it looked for and
    /// EXEGPT_NCCL_LIBRARY) or failed (EXG_ERR_DEVICE).</exception>
    public static byte[] NcclUniqueId()
    {
        NativeLibraryLoader.EnsureLoaded();
        var id = new byte[EXG_NCCL_UNIQUE_ID_BYTES];
        fixed (byte* p = id)
            Check(exg_comm_nccl_unique_id(p, (ulong)id.Length));
        return id;
    }

    /// <summary>
    /// Rank <paramref name="rank"/>'s NCCL communicator on a CUDA backend. Blocks until every rank of the group has
    /// called it with the same <paramref name="uniqueId"/>, so each rank must call from its own thread (or process).
    /// </summary>
    /// <param name="backend">The rank's CUDA backend (its device); it stays alive while the communicator does.</param>
    /// <param name="uniqueId">Rank 0's <see cref="NcclUniqueId"/>.</param>
    /// <param name="worldSize">Ranks in the group.</param>
    /// <param name="rank">This rank, in [0, worldSize).</param>
    /// <param name="timeoutMs">A collective that does not complete in this time aborts the group and fails with
    /// EXG_ERR_COMM; 0 means 60 s.</param>
    public static Comm CreateNccl(Backend backend, ReadOnlySpan<byte> uniqueId, int worldSize, int rank, uint timeoutMs = 0)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, worldSize);
        if (uniqueId.Length != EXG_NCCL_UNIQUE_ID_BYTES)
            throw new ArgumentException($"An NCCL unique id has {EXG_NCCL_UNIQUE_ID_BYTES} bytes; got {uniqueId.Length}.", nameof(uniqueId));
        NativeLibraryLoader.EnsureLoaded();
        var handle = new CommHandle();
        exg_comm* native;
        using (backend.Handle.Lease())
        fixed (byte* id = uniqueId)
            Check(exg_comm_create_nccl(backend.Handle.Pointer, id, worldSize, rank, timeoutMs, &native));
        handle.Attach((nint)native, backend.Handle);
        return new Comm(handle, onDevice: true);
    }

    /// <summary>
    /// One communicator per backend, element i being rank i: a host group for CPU backends, an NCCL group for CUDA
    /// backends (rank 0's unique id; every rank's communicator created on a thread of its own, as NCCL requires).
    /// </summary>
    /// <param name="backends">The ranks' backends, all of one kind.</param>
    /// <param name="timeoutMs">How long a collective waits before failing with EXG_ERR_COMM; 0 means 60 s.</param>
    /// <exception cref="ExgException">The group could not be formed: the first rank's own failure (a rank released by
    /// another's failure only echoes it), or EXG_ERR_COMM when NCCL's set-up outlived the timeout.</exception>
    public static Comm[] CreateGroup(IReadOnlyList<Backend> backends, uint timeoutMs = 0)
    {
        ArgumentNullException.ThrowIfNull(backends);
        if (backends.Count == 0)
            throw new ArgumentException("A group needs at least one backend.", nameof(backends));
        exg_backend_kind kind = backends[0].Kind;
        if (backends.Any(b => b.Kind != kind))
            throw new ArgumentException("The backends of one group must all be of one kind.", nameof(backends));
        return kind == exg_backend_kind.EXG_BACKEND_CUDA
            ? CreateNcclGroup(backends, timeoutMs)
            : CreateHostGroup(backends.Count, timeoutMs);
    }

    private static Comm[] CreateNcclGroup(IReadOnlyList<Backend> backends, uint timeoutMs)
    {
        byte[] id = NcclUniqueId();
        int n = backends.Count;
        var comms = new Comm?[n];
        var failures = new Exception?[n];
        var threads = new Thread[n];
        for (int r = 0; r < n; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    comms[rank] = CreateNccl(backends[rank], id, n, rank, timeoutMs);
                }
                catch (Exception e)
                {
                    failures[rank] = e;
                }
            }) { IsBackground = true, Name = $"exegpt-nccl-init{rank}" };
            threads[r].Start();
        }
        // NCCL's own set-up is bounded by the timeout; a rank still inside it well after that will not come back.
        var deadline = TimeSpan.FromMilliseconds((timeoutMs == 0 ? DefaultTimeoutMs : timeoutMs) + 30_000);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        int stuck = -1;
        for (int r = 0; r < n && stuck < 0; r++)
        {
            TimeSpan left = deadline - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (!threads[r].Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
                stuck = r;
        }
        Exception? failure = stuck >= 0
            ? new ExgException(exg_status.EXG_ERR_COMM,
                $"NCCL communicator set-up of rank {stuck} of {n} did not finish within {deadline.TotalSeconds:0} s")
            : failures.FirstOrDefault(e => e is not null and not ExgException { Status: exg_status.EXG_ERR_COMM })
                ?? failures.FirstOrDefault(e => e is not null);
        if (failure is null)
            return [.. comms.Select(c => c!)];
        // A stuck rank's thread may still create its communicator later; it is then never freed (the process is failing).
        foreach (Comm? comm in comms)
            comm?.Dispose();
        throw failure;
    }

    /// <summary>Replaces <paramref name="data"/> with its elementwise sum over all ranks; every rank must call it.</summary>
    /// <exception cref="ExgException">EXG_ERR_COMM when a peer timed out or the group was aborted.</exception>
    /// <exception cref="InvalidOperationException">An NCCL communicator: its data is device memory.</exception>
    public void AllReduceSum(Span<float> data)
    {
        if (IsDeviceCommunicator)
            throw new InvalidOperationException("An NCCL communicator all-reduces device memory inside the models' steps; host data needs a host group.");
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
