using ExeGPT.Core;
using ExeGPT.Simulator;
using static ExeGPT.Planning.Tests.Simulator.HandSpecs;

namespace ExeGPT.Planning.Tests.Simulator;

/// <summary>Memory per device by hand, out-of-memory and out-of-profile schedules, and malformed schedules.
/// The hand model's layer is 49152 parameters and its embedding (tied to the head) 768·64 = 49152 more, at
/// 2 bytes each; KV is 256 bytes per token per layer.</summary>
public class MemoryAndValidationTests
{
    private const long Layer = 49152 * 2, Embedding = 49152 * 2;

    private static readonly HandProfile Profile = new() { PrefillPerToken = 1 * Ms, DecodeFixed = 2 * Ms, DecodePerSequence = 1 * Ms };

    [Test]
    public void WeightsAndKvPerDeviceOfATwoStageLayout()
    {
        // 3 layers over 2 equal devices: 2 + 1. Device 0 holds 2 layers + the embedding; device 1 holds 1 layer
        // + the LM head (tied, but on another device it needs its own copy).
        // B_E = 2, N_D = 1, input 4, output 3 (2 steps): the peak batch is B_E·⌈2/1⌉ = 4 slots of 4 + 3 = 7 tokens:
        //   device 0: 256·4·7·2 layers = 14336 B, device 1: 7168 B.
        var ctx = Context(Model(layers: 3), Cluster(2), Fixed(4, 3), Profile);
        var r = XSimulator.Simulate(ctx, new Schedule(Policy.Rra, 2, DecodeIterations: 1));
        Assert.That(r.Devices.Select(d => d.Device), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(r.Devices[0].WeightBytes, Is.EqualTo(2 * Layer + Embedding));
        Assert.That(r.Devices[1].WeightBytes, Is.EqualTo(Layer + Embedding));
        Assert.That(r.Devices[0].KvCacheBytes, Is.EqualTo(14336));
        Assert.That(r.Devices[1].KvCacheBytes, Is.EqualTo(7168));
        Assert.That(r.Devices.Select(d => d.Layers), Is.EqualTo(new[] { 2, 1 }));
    }

    [Test]
    public void TensorParallelGroupsShardTheirWeights()
    {
        // Devices 0–1 form a TP-2 stage, device 2 a single stage. The TP stage is twice as fast per layer, so the
        // 3 layers split 2 + 1; each TP rank holds half of its stage: (2 layers + embedding)/2.
        var ctx = Context(Model(layers: 3), Cluster(3), Fixed(4, 3), Profile);
        var r = XSimulator.Simulate(ctx, new Schedule(Policy.Rra, 2, DecodeIterations: 1, TpDegree: 2, TpGroups: 1));
        Assert.That(r.Devices.Select(d => d.WeightBytes), Is.EqualTo(new[] { (2 * Layer + Embedding) / 2, (2 * Layer + Embedding) / 2, Layer + Embedding }));
        Assert.That(r.Devices.Select(d => d.TpDegree), Is.EqualTo(new[] { 2, 2, 1 }));
    }

    [Test]
    public void WaaKeepsTwoCopiesOfADecoderOnlyModel()
    {
        // One encoder with both layers (as prefill) and one decoder with both layers: each is a whole model.
        var ctx = Context(Model(), Cluster(2), Fixed(4, 3), Profile);
        var r = XSimulator.Simulate(ctx, new Schedule(Policy.WaaM, 2));
        Assert.That(r.Devices.Select(d => d.Role), Is.EqualTo(new[] { "encoder", "decoder" }));
        Assert.That(r.Devices.Select(d => d.WeightBytes), Is.EqualTo(new[] { 2 * Layer + Embedding, 2 * Layer + Embedding }));
    }

    [Test]
    public void OutOfMemoryNamesTheFullestDevice()
    {
        // 1 MiB devices (943718 B usable). TP-2 stage on devices 0–1 (2 layers sharded) and device 2 (1 layer + head):
        // device 2 holds the most weights (196608 B vs 147456 B), the same KV per device and the logits, so it
        // overflows first. B_E = 256 with 2 steps each → 512 slots · 7 tokens · 256 B = 917504 B of KV per layer.
        var ctx = Context(Model(layers: 3), Cluster(3, memoryBytes: 1L << 20), Fixed(4, 3), Profile);
        var r = XSimulator.Simulate(ctx, new Schedule(Policy.Rra, 256, DecodeIterations: 1, TpDegree: 2, TpGroups: 1));
        Assert.That(r.Feasible, Is.False);
        Assert.That(r.Reason, Does.StartWith("out of memory on device 2 "));
        Assert.That(r.Reason, Does.Contain("usable"));
        Assert.That(r.Devices[2].KvCacheBytes, Is.EqualTo(917504));
        // Throughput and latency are still predicted, so a search can bound around the point.
        Assert.That(r.ThroughputSeqPerS, Is.GreaterThan(0));
        Assert.That(r.LatencyS, Is.GreaterThan(0));
    }

    [Test]
    public void AQueryOutsideTheProfileGridIsInfeasible()
    {
        var narrow = new HandProfile { PrefillPerToken = 1 * Ms, DecodeFixed = 2 * Ms, DecodePerSequence = 1 * Ms, MaxBatch = 16 };
        var ctx = Context(Model(), Cluster(1), Fixed(4, 3), narrow);
        var r = XSimulator.Simulate(ctx, new Schedule(Policy.Rra, 64, DecodeIterations: 1));
        Assert.That(r.Feasible, Is.False);
        Assert.That(r.Reason, Does.StartWith("outside the profile"));
        Assert.That(r.ThroughputSeqPerS, Is.NaN);
        Assert.That(XSimulator.Simulate(ctx, new Schedule(Policy.Rra, 4, DecodeIterations: 1)).Feasible, Is.True);
    }

    [Test]
    public void MoreStagesThanLayersIsInfeasibleWithAReason()
    {
        var ctx = Context(Model(layers: 2), Cluster(4), Fixed(4, 3), Profile);
        var r = XSimulator.Simulate(ctx, new Schedule(Policy.Rra, 4, DecodeIterations: 1));
        Assert.That(r.Feasible, Is.False);
        Assert.That(r.Reason, Does.Contain("4 pipeline stages exceed the model's 2 layers"));
    }

    private static IEnumerable<TestCaseData> Malformed()
    {
        yield return new TestCaseData(new Schedule(Policy.Rra, 4, DecodeIterations: 1, TpDegree: 3, TpGroups: 1), 4,
            "tensor-parallel degree 3 does not divide").SetName("TpDegreeNotDividingHeads");
        yield return new TestCaseData(new Schedule(Policy.Rra, 0, DecodeIterations: 1), 4, "batch size must be at least 1, got 0")
            .SetName("ZeroBatch");
        yield return new TestCaseData(new Schedule(Policy.Static, 0), 4, "batch size must be at least 1, got 0").SetName("ZeroStaticBatch");
        yield return new TestCaseData(new Schedule(Policy.Rra, 4, DecodeIterations: 0), 4, "N_D").SetName("ZeroDecodeIterations");
        yield return new TestCaseData(new Schedule(Policy.Rra, 4, DecodeIterations: 1, Devices: 5), 4, "uses 5 devices; cluster 'hand' has 4")
            .SetName("MoreDevicesThanTheCluster");
        yield return new TestCaseData(new Schedule(Policy.WaaC, 4, Devices: 1), 4, "WAA needs at least two devices").SetName("WaaOnOneDevice");
        yield return new TestCaseData(new Schedule(Policy.WaaM, 4), 1, "WAA needs at least two devices").SetName("WaaOnAOneDeviceCluster");
        yield return new TestCaseData(new Schedule(Policy.Rra, 4, DecodeIterations: 1, TpDegree: 1, TpGroups: 2), 4, "tensor-parallel groups")
            .SetName("TpGroupsWithoutTp");
    }

    [TestCaseSource(nameof(Malformed))]
    public void MalformedSchedulesThrowNamingTheProblem(Schedule schedule, int devices, string message)
    {
        var ctx = Context(Model(layers: 4), Cluster(devices), Fixed(4, 3), Profile);
        var e = Assert.Throws<SpecException>(() => XSimulator.Simulate(ctx, schedule));
        Assert.That(e!.Message, Does.Contain(message));
    }
}
