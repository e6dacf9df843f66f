using ExeGPT.Core.Clusters;
using ExeGPT.Native;

namespace ExeGPT.Profiler;

/// <summary>The roofline of a CUDA device the profiler ran on: its memory and peak bandwidth as the backend reports
/// them, its dense BF16/F16 tensor-core peak from the datasheet of its compute capability.</summary>
public static class GpuPeaks
{
    /// <summary>Dense (no sparsity) BF16 tensor-core peak in FLOP/s by compute capability, from the datasheet figure of
    /// its cluster preset; 0 when not known. Other parts of one compute capability differ widely (sm_86 spans the A40
    /// and laptop GPUs; the H100 PCIe card has 756 TFLOP/s), so only sm_80 (A100 SXM) and sm_90 (H100 SXM, also H200)
    /// are listed; a 0 leaves the profile without a roofline rather than drawing a wrong one.</summary>
    public static double DenseBf16Flops(int computeCapability) =>
        FamilyPreset(computeCapability) is { } family ? ClusterPresets.Get($"{family}x1").Device.PeakFlops : 0;

    /// <summary>The cluster preset of the GPU family a compute capability stands for (its datasheet peak and links).</summary>
    private static string? FamilyPreset(int computeCapability) => computeCapability switch
    {
        80 => "a100",
        90 => "h100",
        _ => null,
    };

    /// <summary><paramref name="ranks"/> of the described device in one node, or null when its peak FLOP/s or
    /// bandwidth is unknown (no roofline can be drawn then).</summary>
    public static ClusterSpec? Cluster(DeviceInfo device, int ranks)
    {
        ArgumentNullException.ThrowIfNull(device);
        double bandwidth = device.PeakBandwidthGbps * 1e9;
        if (bandwidth <= 0 || device.TotalMemoryBytes == 0 || FamilyPreset(device.ComputeCapability) is not { } family)
            return null;
        ClusterSpec links = ClusterPresets.Get($"{family}x{Math.Clamp(ranks, 1, 8)}");
        return links with
        {
            Name = $"{device.Name} x{ranks}",
            Device = new DeviceSpec(device.Name, (long)device.TotalMemoryBytes, links.Device.PeakFlops, bandwidth),
            Nodes = 1,
            DevicesPerNode = ranks,
        };
    }
}
