using ExeGPT.Native.Interop;

namespace ExeGPT.Native;

/// <summary>What <see cref="Backend.Create(BackendOptions)"/> builds.</summary>
public sealed record BackendOptions
{
    public exg_backend_kind Kind { get; init; } = exg_backend_kind.EXG_BACKEND_CPU;

    /// <summary>Device ordinal (CUDA); ignored on CPU.</summary>
    public int Device { get; init; }

    /// <summary>CPU threads for GEMMs and attention; 0 or less uses every core.</summary>
    public int NumThreads { get; init; }

    /// <summary>Storage dtype of weights, activations and the KV cache; null takes the backend's default (CPU: F32,
    /// the only one it has; CUDA: BF16, or F16). Computation accumulates in F32 either way.</summary>
    public exg_dtype? Dtype { get; init; }
}

/// <summary>A backend's device as the library describes it (<see cref="Backend.DeviceInfo"/>).</summary>
/// <param name="Name">"NVIDIA H100 80GB HBM3"; the CPU model on the CPU backend.</param>
/// <param name="TotalMemoryBytes">Device memory (host memory on CPU).</param>
/// <param name="FreeMemoryBytes">Free now.</param>
/// <param name="Multiprocessors">SMs (CUDA); cores (CPU).</param>
/// <param name="ComputeCapability">major * 10 + minor (CUDA); 0 on CPU.</param>
/// <param name="PeakBandwidthGbps">Peak memory bandwidth in GB/s from the memory clock and bus width (CUDA); 0 when
/// unknown.</param>
public sealed record DeviceInfo(string Name, ulong TotalMemoryBytes, ulong FreeMemoryBytes, int Multiprocessors,
    int ComputeCapability, double PeakBandwidthGbps);
