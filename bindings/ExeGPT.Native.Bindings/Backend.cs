using ExeGPT.Native.Handles;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>An execution backend (CPU, or CUDA when its library and a device are present).</summary>
public sealed unsafe class Backend : IDisposable
{
    private Backend(BackendHandle handle, exg_backend_kind kind, string name)
    {
        Handle = handle;
        Kind = kind;
        Name = name;
    }

    internal BackendHandle Handle { get; }

    public exg_backend_kind Kind { get; }

    /// <summary>The library's name for the backend: "cpu" or "cuda".</summary>
    public string Name { get; }

    /// <param name="numThreads">Threads for GEMMs and attention; 0 or less uses every core.</param>
    public static Backend CreateCpu(int numThreads = 0) => Create(exg_backend_kind.EXG_BACKEND_CPU, 0, numThreads);

    /// <param name="kind">The backend kind.</param>
    /// <param name="device">Device ordinal (CUDA); ignored on CPU.</param>
    /// <param name="numThreads">CPU threads; 0 or less uses every core.</param>
    public static Backend Create(exg_backend_kind kind, int device = 0, int numThreads = 0)
    {
        NativeLibraryLoader.EnsureLoaded();
        var handle = new BackendHandle();
        var parameters = new exg_backend_params
        {
            struct_size = (uint)sizeof(exg_backend_params),
            kind = (int)kind,
            device = device,
            num_threads = numThreads,
        };
        exg_backend* native;
        Check(exg_backend_create(&parameters, &native));
        handle.Attach((nint)native);
        return new Backend(handle, kind, Internal.Utf8.ToString(exg_backend_name(native)));
    }

    /// <summary>True when a backend of <paramref name="kind"/> can be created here (library present, device found).</summary>
    public static bool IsAvailable(exg_backend_kind kind)
    {
        NativeLibraryLoader.EnsureLoaded();
        return exg_backend_available((int)kind) != 0;
    }

    /// <summary>Releases the backend once every model and buffer created on it is released too.</summary>
    public void Dispose() => Handle.Dispose();
}
