using ExeGPT.Core.Clusters;
using ExeGPT.Profiler;

namespace ExeGPT.Tests.Profiler;

/// <summary>The roofline a CUDA profile is drawn against: the device's own bandwidth and memory, the datasheet peak of
/// its compute capability, or none when that peak is unknown.</summary>
[TestFixture]
public sealed class GpuPeaksTests
{
    [TestCase(80, 312e12)]
    [TestCase(90, 989e12)]
    [TestCase(86, 0)]
    [TestCase(89, 0)]
    [TestCase(0, 0)]
    public void Dense_bf16_peaks_by_compute_capability(int computeCapability, double flops)
    {
        Assert.That(GpuPeaks.DenseBf16Flops(computeCapability), Is.EqualTo(flops));
    }

    [Test]
    public void A_known_device_gives_a_valid_one_node_cluster_of_its_own_figures()
    {
        var h100 = new DeviceInfo("NVIDIA H100 80GB HBM3", 85_029_158_912, 84_000_000_000, 132, 90, 3352.3);
        ClusterSpec cluster = GpuPeaks.Cluster(h100, ranks: 2)!;
        Assert.That(cluster, Is.Not.Null);
        Assert.DoesNotThrow(cluster.Validate);
        Assert.Multiple(() =>
        {
            Assert.That(cluster.Device.Name, Is.EqualTo("NVIDIA H100 80GB HBM3"));
            Assert.That(cluster.Device.PeakFlops, Is.EqualTo(989e12));
            Assert.That(cluster.Device.MemoryBandwidth, Is.EqualTo(3352.3e9).Within(1e-3));
            Assert.That(cluster.Device.MemoryBytes, Is.EqualTo(85_029_158_912L));
            Assert.That((cluster.Nodes, cluster.DevicesPerNode), Is.EqualTo((1, 2)));
        });
    }

    [Test]
    public void An_unknown_peak_or_bandwidth_draws_no_roofline()
    {
        Assert.Multiple(() =>
        {
            Assert.That(GpuPeaks.Cluster(new DeviceInfo("NVIDIA A40", 48L << 30, 0, 84, 86, 696), 1), Is.Null, "sm_86 peak unknown");
            Assert.That(GpuPeaks.Cluster(new DeviceInfo("NVIDIA A100", 80L << 30, 0, 108, 80, 0), 1), Is.Null, "bandwidth unknown");
        });
    }
}
