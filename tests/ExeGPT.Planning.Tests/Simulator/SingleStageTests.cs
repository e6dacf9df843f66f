using ExeGPT.Simulator;
using static ExeGPT.Planning.Tests.Simulator.HandSpecs;

namespace ExeGPT.Planning.Tests.Simulator;

/// <summary>One device, one query at a time: every number follows from the profile by hand.
///
/// Decoder-only model of 2 layers (head ratio 1), input 4 tokens, output 3 tokens → 2 decode steps (the
/// prefill emits the first token). Profile: prefill 1 ms per token, decode rest 10 ms + 1 ms per sequence,
/// no attention cost, no communication.
///   prefill of one query  T_pre   = 2 layers · 4 ms + head (10 + 1)          = 19 ms
///   decode step, batch b  T_dec(b) = 2 layers · (10 + b) + head (10 + b)     = 3·(10 + b) ms: 33 (b=1), 36 (b=2)</summary>
public class SingleStageTests
{
    private static readonly HandProfile Profile = new() { PrefillPerToken = 1 * Ms, DecodeFixed = 10 * Ms, DecodePerSequence = 1 * Ms };

    private static SimulationContext Ctx() => Context(Model(), Cluster(1), Fixed(4, 3), Profile);

    private static IEnumerable<SimulationMode> Modes => [SimulationMode.Expected, SimulationMode.Event];

    [TestCaseSource(nameof(Modes))]
    public void RraDecodingTheWholeOutputInOnePhase(SimulationMode mode)
    {
        // N_D = 2 ≥ 2 steps: a cycle is prefill + two steps of the lone query: 19 + 2·33 = 85 ms, and the query's
        // latency is that same cycle.
        var r = XSimulator.Simulate(Ctx(), new Schedule(Policy.Rra, EncoderBatch: 1, DecodeIterations: 2), mode);
        Assert.That(r.Feasible, r.Reason);
        Assert.That(r.ThroughputSeqPerS, Is.EqualTo(1 / (85 * Ms)).Within(1e-9).Percent);
        Assert.That(r.LatencyS, Is.EqualTo(85 * Ms).Within(1e-9).Percent);
        Assert.That(r.DecodeBatch, Is.EqualTo(1).Within(1e-12));
        Assert.That(r.Ttft.Mean, Is.EqualTo(19 * Ms).Within(1e-9).Percent);
    }

    [TestCaseSource(nameof(Modes))]
    public void RraEncodingEveryIterationTradesLatencyForThroughput(SimulationMode mode)
    {
        // N_D = 1: each cycle encodes one query and runs one step over it and the query encoded a cycle earlier
        // (batch 2): cycle = 19 + 36 = 55 ms → 18.18 seq/s. A query spans two cycles: it is encoded (19), waits
        // out the rest of its first cycle's step (36), then its second cycle (19 + 36): 110 ms.
        var r = XSimulator.Simulate(Ctx(), new Schedule(Policy.Rra, EncoderBatch: 1, DecodeIterations: 1), mode);
        Assert.That(r.ThroughputSeqPerS, Is.EqualTo(1 / (55 * Ms)).Within(1e-9).Percent);
        Assert.That(r.LatencyS, Is.EqualTo(110 * Ms).Within(1e-9).Percent);
        Assert.That(r.DecodeBatch, Is.EqualTo(2).Within(1e-12));
    }

    [TestCaseSource(nameof(Modes))]
    public void StaticBatchOfOne(SimulationMode mode)
    {
        // Prefill then two steps: 85 ms per query, and the paper holds static batching to the longest output (3).
        var r = XSimulator.Simulate(Ctx(), new Schedule(Policy.Static, EncoderBatch: 1), mode);
        Assert.That(r.ThroughputSeqPerS, Is.EqualTo(1 / (85 * Ms)).Within(1e-9).Percent);
        Assert.That(r.LatencyS, Is.EqualTo(85 * Ms).Within(1e-9).Percent);
        Assert.That(r.EndToEnd.Mean, Is.EqualTo(85 * Ms).Within(1e-9).Percent);
    }

    [TestCaseSource(nameof(Modes))]
    public void ContinuousWithRoomForOneIsSerial(SimulationMode mode)
    {
        // One slot: a query's prefill iteration (19) and its two steps (33 each) run alone: 85 ms each.
        var r = XSimulator.Simulate(Ctx(), new Schedule(Policy.Continuous, EncoderBatch: 1), mode);
        Assert.That(r.ThroughputSeqPerS, Is.EqualTo(1 / (85 * Ms)).Within(1e-9).Percent);
        Assert.That(r.LatencyS, Is.EqualTo(85 * Ms).Within(1e-9).Percent);
    }

    [TestCaseSource(nameof(Modes))]
    public void ContinuousWithRoomForThreeOverlapsPrefillAndDecode(SimulationMode mode)
    {
        // Three slots: every iteration admits one query (prefill 19) and steps the two admitted before it
        // (36): 55 ms per iteration, one query out per iteration; each query lives 3 iterations: 165 ms.
        var r = XSimulator.Simulate(Ctx(), new Schedule(Policy.Continuous, EncoderBatch: 3), mode);
        Assert.That(r.ThroughputSeqPerS, Is.EqualTo(1 / (55 * Ms)).Within(1e-9).Percent);
        Assert.That(r.LatencyS, Is.EqualTo(165 * Ms).Within(1e-9).Percent);
    }

    private static SimulationContext T5Ctx() => Context(T5Model(), Cluster(1), Fixed(4, 3), new HandProfile
    {
        PrefillPerToken = 1 * Ms, DecodeFixed = 10 * Ms, DecodePerSequence = 1 * Ms, CrossPerToken = 0.5 * Ms,
    });

    [Test]
    public void StaticEncoderDecoderEventLevel()
    {
        // Encode 8, then 3 steps of 37: 119 ms; the first token leaves the first step at 8 + 37 = 45 ms.
        var r = XSimulator.Simulate(T5Ctx(), new Schedule(Policy.Static, 1), SimulationMode.Event);
        Assert.That(r.EndToEnd.Mean, Is.EqualTo(119 * Ms).Within(1e-9).Percent);
        Assert.That(r.Ttft.Mean, Is.EqualTo(45 * Ms).Within(1e-9).Percent);
    }

    [Test]
    public void StaticEncoderDecoderExpectedTtft()
    {
        var r = XSimulator.Simulate(T5Ctx(), new Schedule(Policy.Static, 1));
        Assert.That(r.EndToEnd.Mean, Is.EqualTo(119 * Ms).Within(1e-9).Percent);
        Assert.That(r.Ttft.Mean, Is.EqualTo(45 * Ms).Within(1e-9).Percent);
    }

    [TestCaseSource(nameof(Modes))]
    public void EncoderDecoderDecodesEveryToken(SimulationMode mode)
    {
        // T5-style: 2 encoder + 2 decoder layers, cross-attention 0.5 ms per encoder token (4 tokens: 2 ms).
        // The encoder emits no token (no head): T_pre = 2·4 = 8 ms. All 3 output tokens are decode steps:
        // T_dec = 2·(11 + 2) + head 11 = 37 ms. N_D = 3: cycle = 8 + 3·37 = 119 ms; first token at 8 + 37 = 45 ms.
        var ctx = T5Ctx();
        var r = XSimulator.Simulate(ctx, new Schedule(Policy.Rra, EncoderBatch: 1, DecodeIterations: 3), mode);
        Assert.That(r.ThroughputSeqPerS, Is.EqualTo(1 / (119 * Ms)).Within(1e-9).Percent);
        Assert.That(r.LatencyS, Is.EqualTo(119 * Ms).Within(1e-9).Percent);
        Assert.That(r.Ttft.Mean, Is.EqualTo(45 * Ms).Within(1e-9).Percent);
    }
}
