using ExeGPT.Core.Clusters;
using ExeGPT.Native;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>What a profile is measured on, known before any measurement: the device description that names it (and
/// keys the cache), the storage dtype, and on CUDA the device as the backend reports it.</summary>
/// <param name="DeviceName">The profile's device line.</param>
/// <param name="Dtype">The backend's storage dtype.</param>
/// <param name="Device">CUDA device 0's description; null for CPU ranks.</param>
internal sealed record ProfileTarget(string DeviceName, exg_dtype Dtype, DeviceInfo? Device)
{
    /// <summary>Bytes per element at <see cref="Dtype"/>.</summary>
    public int DtypeBytes => DtypeNames.ElementBytes(Dtype);

    /// <summary>CPU ranks are described without opening a backend (F32 is the CPU backend's only dtype); on CUDA a
    /// backend on device 0 resolves the default dtype and describes the device (every rank's is assumed alike).</summary>
    /// <exception cref="ExgException">The CUDA backend cannot be created (the message says why).</exception>
    public static ProfileTarget Probe(ProfileRequest request)
    {
        if (!request.OnDevice)
            return new ProfileTarget($"{HostCpu.Name}, {request.Ranks} rank(s) x {request.ThreadsPerRank} thread(s)",
                request.Dtype ?? exg_dtype.EXG_DTYPE_F32, null);
        using Backend backend = Backend.Create(new BackendOptions { Kind = request.Backend, Device = 0, Dtype = request.Dtype });
        DeviceInfo device = backend.DeviceInfo;
        return new ProfileTarget($"{device.Name} x {request.Ranks}, {DtypeNames.Name(backend.Dtype)}", backend.Dtype, device);
    }
}
