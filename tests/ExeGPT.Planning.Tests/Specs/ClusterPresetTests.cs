using ExeGPT.Core;
using ExeGPT.Core.Clusters;

namespace ExeGPT.Planning.Tests.Specs;

public class ClusterPresetTests
{
    [Test]
    public void PaperA100Cluster()
    {
        ClusterSpec c = ClusterPresets.Get("a100x16");
        Assert.Multiple(() =>
        {
            Assert.That((c.Nodes, c.DevicesPerNode, c.TotalDevices), Is.EqualTo((2, 8, 16)));
            Assert.That(c.Device.MemoryBytes, Is.EqualTo(80L << 30));
            Assert.That(c.Device.PeakFlops, Is.EqualTo(312e12));
            Assert.That(c.Device.MemoryBandwidth, Is.EqualTo(2.039e12).Within(1e6));
            Assert.That(c.IntraNode.Bandwidth, Is.EqualTo(300e9).Within(1));
            Assert.That(c.InterNode.Bandwidth, Is.EqualTo(25e9).Within(1));   // 200 Gb/s per GPU
            Assert.That(c.LinkBetween(7, 8), Is.SameAs(c.InterNode));
            Assert.That(c.LinkBetween(8, 15), Is.SameAs(c.IntraNode));
        });
    }

    [Test]
    public void PaperA40Cluster()
    {
        ClusterSpec c = ClusterPresets.Get("a40x48");
        Assert.Multiple(() =>
        {
            Assert.That((c.Nodes, c.DevicesPerNode), Is.EqualTo((6, 8)));
            Assert.That(c.Device.PeakFlops, Is.EqualTo(149.7e12).Within(1e6));
            Assert.That(c.Device.MemoryBandwidth, Is.EqualTo(696e9).Within(1));
            Assert.That(c.IntraNode.Bandwidth, Is.EqualTo(25e9).Within(1));
            // 100 Gb/s = 12.5 GB/s per node; a pipeline boundary's single sender gets all of it.
            Assert.That(c.InterNode.Bandwidth, Is.EqualTo(12.5e9).Within(1));
        });
    }

    [TestCase("a40x4", 1, 4)]
    [TestCase("a40x16", 2, 8)]
    [TestCase("h100x1", 1, 1)]
    [TestCase("h100x8", 1, 8)]
    [TestCase("H200X24", 3, 8)]
    [TestCase("a100x8", 1, 8)]
    [TestCase("cpu", 1, 1)]
    [TestCase("cpux2", 1, 2)]
    public void PatternGivesNodesOfEight(string name, int nodes, int perNode)
    {
        ClusterSpec c = ClusterPresets.Get(name);
        Assert.That((c.Nodes, c.DevicesPerNode), Is.EqualTo((nodes, perNode)));
        Assert.DoesNotThrow(c.Validate);
    }

    [Test]
    public void HopperDevices()
    {
        DeviceSpec h100 = ClusterPresets.Get("h100x8").Device, h200 = ClusterPresets.Get("h200x8").Device;
        Assert.Multiple(() =>
        {
            Assert.That((h100.PeakFlops, h100.MemoryBandwidth), Is.EqualTo((989e12, 3.35e12)));
            Assert.That((h200.PeakFlops, h200.MemoryBandwidth, h200.MemoryBytes), Is.EqualTo((989e12, 4.8e12, 141L << 30)));
            Assert.That(ClusterPresets.Get("h100x8").IntraNode.Bandwidth, Is.EqualTo(450e9).Within(1));
        });
    }

    [Test]
    public void CpuRanksSplitTheMachine()
    {
        ClusterSpec one = ClusterPresets.Get("cpu"), two = ClusterPresets.Get("cpux2");
        Assert.Multiple(() =>
        {
            Assert.That(one.Name, Is.EqualTo("cpu"));
            Assert.That(one.Device.PeakFlops, Is.EqualTo(234.95e9).Within(1e6));   // bench/results measurement
            Assert.That(two.Device.PeakFlops * 2, Is.EqualTo(one.Device.PeakFlops).Within(1));
            Assert.That(two.Device.MemoryBytes * 2, Is.EqualTo(24_000_000_000L));
            Assert.That(one.IntraNode.Latency, Is.EqualTo(1e-6).Within(1e-12));
        });
    }

    [Test]
    public void EveryListedNameValidates()
    {
        foreach (string name in ClusterPresets.Names)
            Assert.DoesNotThrow(ClusterPresets.Get(name).Validate, name);
    }

    [TestCase("a100x12")]   // more than one node but not whole nodes
    [TestCase("a100x0")]
    [TestCase("a100x")]
    [TestCase("x8")]
    [TestCase("v100x8")]
    [TestCase("a100x-8")]
    [TestCase("a100x8x2")]
    [TestCase("cpux65")]
    [TestCase("gpu")]
    [TestCase("")]
    public void BadNamesListThePatterns(string name)
    {
        Assert.That(ClusterPresets.TryGet(name, out _), Is.False);
        var e = Assert.Throws<SpecException>(() => ClusterPresets.Get(name))!;
        Assert.That(e.Message, Does.Contain($"'{name}'").And.Contain("<a100|a40|h100|h200>x<N>").And.Contain("cpux<N>"));
    }
}
