using ExeGPT.Native.Handles;
using ExeGPT.Native.Internal;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>An execution backend (CPU, or CUDA when its library and a device are present).</summary>
public sealed unsafe class Backend : IDisposable
{
    private Backend(BackendHandle handle, exg_backend_kind kind, string name, exg_dtype dtype)
    {
        Handle = handle;
        Kind = kind;
        Name = name;
        Dtype = dtype;
    }

    internal BackendHandle Handle { get; }

    public exg_backend_kind Kind { get; }

    /// <summary>The library's name for the backend: "cpu" or "cuda".</summary>
    public string Name { get; }

    /// <summary>The storage dtype of weights, activations and the KV cache (what a default request resolved to).</summary>
    public exg_dtype Dtype { get; }

    /// <param name="numThreads">Threads for GEMMs and attention; 0 or less uses every core.</param>
    public static Backend CreateCpu(int numThreads = 0) => Create(new BackendOptions { NumThreads = numThreads });

    /// <param name="kind">The backend kind.</param>
    /// <param name="device">Device ordinal (CUDA); ignored on CPU.</param>
    /// <param name="numThreads">CPU threads; 0 or less uses every core.</param>
    /// <param name="dtype">Storage dtype; null for the backend's default.</param>
    public static Backend Create(exg_backend_kind kind, int device = 0, int numThreads = 0, exg_dtype? dtype = null) =>
        Create(new BackendOptions { Kind = kind, Device = device, NumThreads = numThreads, Dtype = dtype });

    /// <exception cref="ExgException">The kind is unavailable here (EXG_ERR_UNSUPPORTED; <see cref="UnavailableReason"/>
    /// says why), the dtype is not one the backend stores (EXG_ERR_UNSUPPORTED), or the device failed (EXG_ERR_DEVICE).</exception>
    public static Backend Create(BackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        NativeLibraryLoader.EnsureLoaded();
        var handle = new BackendHandle();
        var parameters = new exg_backend_params
        {
            struct_size = (uint)sizeof(exg_backend_params),
            kind = (int)options.Kind,
            device = options.Device,
            num_threads = options.NumThreads,
            dtype = options.Dtype is { } dtype ? (int)dtype : DefaultDtype,
        };
        exg_backend* native;
        Check(exg_backend_create(&parameters, &native));
        handle.Attach((nint)native);
        return new Backend(handle, options.Kind, Utf8.ToString(exg_backend_name(native)), (exg_dtype)exg_backend_dtype(native));
    }

    /// <summary><c>exg_backend_params.dtype</c> asking for the backend's default (0 would mean F32, right for CPU only).</summary>
    internal const int DefaultDtype = -1;

    /// <summary>True when a backend of <paramref name="kind"/> can be created here (library present, device found).</summary>
    public static bool IsAvailable(exg_backend_kind kind)
    {
        NativeLibraryLoader.EnsureLoaded();
        return exg_backend_available((int)kind) != 0;
    }

    /// <summary>Why <see cref="IsAvailable"/> is false for <paramref name="kind"/> (e.g. "no CUDA-capable device is
    /// detected"); "" when it is available.</summary>
    public static string UnavailableReason(exg_backend_kind kind)
    {
        NativeLibraryLoader.EnsureLoaded();
        return Utf8.ToString(exg_backend_unavailable_reason((int)kind));
    }

    /// <summary>The backend's device now (free memory changes as models and caches come and go).</summary>
    /// <exception cref="ExgException">The device could not be queried (EXG_ERR_DEVICE).</exception>
    public DeviceInfo DeviceInfo
    {
        get
        {
            var info = new exg_device_info { struct_size = (uint)sizeof(exg_device_info) };
            using (Handle.Lease())
                Check(exg_backend_device_info(Handle.Pointer, &info));
            return new DeviceInfo(FixedText(info.name, 128), info.total_memory, info.free_memory, info.multiprocessors,
                info.compute_capability, info.peak_bandwidth_gbps);
        }
    }

    /// <summary>A NUL-terminated UTF-8 string in a fixed buffer; without a NUL, the whole buffer.</summary>
    private static string FixedText(byte* text, int capacity)
    {
        var bytes = new ReadOnlySpan<byte>(text, capacity);
        int length = bytes.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(length < 0 ? bytes : bytes[..length]);
    }

    /// <summary>
    /// Loads a kernel plug-in (a shared library implementing <c>exegpt_kernels.h</c>): models created on this backend
    /// afterwards run its attention and/or FFN instead of the engine's own; models created before keep the engine's.
    /// One library per backend, CPU backends only.
    /// </summary>
    /// <param name="path">The library file (relative to the working directory; the library search path is not used).</param>
    /// <exception cref="ExgException">The file is missing (EXG_ERR_IO), not a kernel library (EXG_ERR_FORMAT), built
    /// for another kernel ABI version or loaded into a non-CPU backend (EXG_ERR_UNSUPPORTED), or a library is already
    /// loaded (EXG_ERR_INVALID_ARGUMENT); the message names the path.</exception>
    public void LoadKernelLibrary(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var utf8 = new Utf8String(path, stackalloc byte[512], nameof(path));
        using var lease = Handle.Lease();
        fixed (byte* p = utf8)
            Check(exg_backend_load_kernel_library(Handle.Pointer, p));
    }

    /// <summary>The loaded kernel plug-in's name (from its table), or null when the backend runs only its own kernels.</summary>
    public string? KernelLibraryName
    {
        get
        {
            using var lease = Handle.Lease();
            var name = exg_backend_kernel_library_name(Handle.Pointer);
            return name == null ? null : Utf8.ToString(name);
        }
    }

    /// <summary>The ops the loaded kernel plug-in replaces (<see cref="exg_kernel_op"/> flags, combined with |).</summary>
    public exg_kernel_op KernelOps
    {
        get
        {
            using var lease = Handle.Lease();
            return (exg_kernel_op)exg_backend_kernel_ops(Handle.Pointer);
        }
    }

    /// <summary>Releases the backend once every model and buffer created on it is released too.</summary>
    public void Dispose() => Handle.Dispose();
}
