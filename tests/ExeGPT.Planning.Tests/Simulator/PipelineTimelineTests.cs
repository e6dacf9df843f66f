using ExeGPT.Simulator;
using static ExeGPT.Planning.Tests.Simulator.HandSpecs;

namespace ExeGPT.Planning.Tests.Simulator;

/// <summary>The explicit timeline against hand-drawn schedules, the paper's micro-batch example, and the closed
/// forms the models use (period max(Σt, M·max t)).</summary>
public class PipelineTimelineTests
{
    [Test]
    public void TwoStagesTwoMicroBatchesByHand()
    {
        // Stage times 1 and 3, micro-batches A and B, two iterations. Stage 1 is the bottleneck:
        //   A it0: s0 [0,1]  s1 [1,4]      B it0: s0 [1,2]  s1 [4,7]
        //   A it1: s0 [4,5]  s1 [7,10]     B it1: s0 [7,8]  s1 [10,13]
        // A's second pass waits on its first token (4), then for stage 1 to finish B (7).
        var t = PipelineTimeline.Build([1.0, 3.0], microBatches: 2, iterations: 2);
        double[,] expected = { { 0, 1, 1, 4 }, { 1, 2, 4, 7 }, { 4, 5, 7, 10 }, { 7, 8, 10, 13 } };
        int row = 0;
        foreach (TimelineSlot slot in t.Slots())
        {
            int r = slot.Iteration * 2 + slot.MicroBatch;
            Assert.That(slot.Start, Is.EqualTo(expected[r, 2 * slot.Stage]), slot.ToString());
            Assert.That(slot.Finish, Is.EqualTo(expected[r, 2 * slot.Stage + 1]), slot.ToString());
            row++;
        }
        Assert.That(row, Is.EqualTo(8));
        Assert.That(t.Makespan, Is.EqualTo(13));
        Assert.That(t.IterationDone(1, 0), Is.EqualTo(10));
        Assert.That(t.BusyTime(1), Is.EqualTo(12));
        Assert.That(t.BusyTime(0), Is.EqualTo(4));
    }

    [Test]
    public void PaperExampleSevenStagesWithoutMicroBatchesThreeAndTwoThirdsWith()
    {
        // Digest §2.3 mechanism 2 (Fig. 4b/c): GPU1 encodes (one stage time), GPU2–4 decode, 2 tokens.
        // Without micro-batches the decode batch takes a stage time on each decoder: 1 + 2·3 = 7.
        var whole = PipelineTimeline.Build([1.0, 1.0, 1.0], microBatches: 1, iterations: 2, startOffset: 1);
        Assert.That(whole.Makespan, Is.EqualTo(7).Within(1e-12));
        // Three micro-batches of a third each: the first finishes its 2 tokens at 1 + 2 = 3, the others 1/3 and
        // 2/3 later: 3⅔ stage times.
        double third = 1.0 / 3;
        var micro = PipelineTimeline.Build([third, third, third], microBatches: 3, iterations: 2, startOffset: 1);
        Assert.That(micro.Makespan, Is.EqualTo(3 + 2.0 / 3).Within(1e-12));
        Assert.That(micro.IterationDone(1, 0), Is.EqualTo(3).Within(1e-12));
        Assert.That(micro.IterationDone(1, 1), Is.EqualTo(3 + third).Within(1e-12));
        // The closed form: offset + I·max(Σt, M·max t) + the last micro-batch's lag min((M−1)·max, Σ − max).
        Assert.That(1 + 2 * Math.Max(1, 3 * third) + Math.Min(2 * third, 1 - third), Is.EqualTo(micro.Makespan).Within(1e-12));
        Assert.That(1 + 2 * 3.0 + 0, Is.EqualTo(whole.Makespan).Within(1e-12));
    }

    [Test]
    public void PaperExampleThroughTheWaaModel()
    {
        // The same shape in the simulator: WAA-M on 4 devices puts the (small) model's prefill copy on one
        // encoder and its 3 decoder layers on 3 decoder stages. Decode rest 1 ms per sequence, nothing fixed,
        // no communication: a stage costs 1 ms per sequence (the last one 2: layer + head). B_E = 3, 3 output
        // tokens → 2 steps each, so B_D = 3·2 = 6.
        //   one micro-batch:    stage times 6, 6, 12 → period Σ = 24 ms
        //   three micro-batches: 2, 2, 4            → period max(8, 3·4) = 12 ms
        // The encoder (3 layers · 12 tokens · 0.01 ms + head 3 ms = 3.36 ms per batch) never limits, so
        // throughput = B_E / period.
        var ctx = Context(Model(layers: 3), Cluster(4), Fixed(4, 3),
            new HandProfile { PrefillPerToken = 0.01 * Ms, DecodePerSequence = 1 * Ms });
        foreach (var (micro, times) in new[] { (1, new[] { 6.0, 6, 12 }), (3, new[] { 2.0, 2, 4 }) })
        {
            var r = XSimulator.Simulate(ctx, new Schedule(Policy.WaaM, EncoderBatch: 3, MicroBatches: micro));
            var timeline = PipelineTimeline.Build(times, micro, iterations: 40);
            double steady = timeline.IterationDone(39, 0) - timeline.IterationDone(38, 0);
            Assert.That(steady, Is.EqualTo(micro == 1 ? 24 : 12).Within(1e-9));
            Assert.That(r.EncoderDevices, Is.EqualTo(1));
            Assert.That(r.ThroughputSeqPerS, Is.EqualTo(3 / (steady * Ms)).Within(1e-9).Percent, $"{micro} micro-batches");
            // Latency: encode 3.36, wait half a period for the next iteration, then 2 iterations.
            Assert.That(r.LatencyS, Is.EqualTo((3.36 + steady / 2 + 2 * steady) * Ms).Within(1e-9).Percent);
        }
    }

    [Test]
    public void SteadyStatePeriodAndMakespanMatchTheClosedForms()
    {
        // Random stage times, depths and micro-batch counts: the period between a micro-batch's tokens settles at
        // max(Σt, M·max t) (Pipeline.Period), and I iterations take I·period plus the last micro-batch's lag
        // min((M−1)·max, Σ − max). The models' drain (M−1)·max is an upper bound on that lag.
        var random = new Random(12345);
        for (int trial = 0; trial < 500; trial++)
        {
            int stages = random.Next(1, 7), micro = random.Next(1, stages + 3), iterations = random.Next(1, 8);
            double[] times = new double[stages];
            for (int s = 0; s < stages; s++) times[s] = random.Next(4) == 0 ? 2.0 : 0.1 + 3 * random.NextDouble();
            double sum = times.Sum(), max = times.Max(), period = Math.Max(sum, micro * max);
            double offset = random.NextDouble();
            var t = PipelineTimeline.Build(times, micro, iterations, offset);
            string what = $"times [{string.Join(", ", times)}], M={micro}, I={iterations}";
            Assert.That(t.Makespan, Is.EqualTo(offset + iterations * period + Math.Min((micro - 1) * max, sum - max)).Within(1e-9), what);
            Assert.That(t.Makespan, Is.LessThanOrEqualTo(offset + iterations * period + (micro - 1) * max + 1e-9), what);
            if (iterations >= 3)
                for (int j = 0; j < micro; j++)
                    Assert.That(t.IterationDone(iterations - 1, j) - t.IterationDone(iterations - 2, j), Is.EqualTo(period).Within(1e-9), what);
            for (int s = 0; s < stages; s++)
                Assert.That(t.BusyTime(s), Is.EqualTo(iterations * micro * times[s]).Within(1e-9), what);
        }
    }

    [Test]
    public void OneMicroBatchFlowShopIsTheEncodePhaseFormula()
    {
        // An encode phase is one pass (I = 1) of M micro-batches: Σt + (M−1)·max t (RraModel.Plan.Encode).
        var t = PipelineTimeline.Build([2.0, 5.0, 1.0], microBatches: 4, iterations: 1);
        Assert.That(t.Makespan, Is.EqualTo(8 + 3 * 5));
    }

    [Test]
    public void ShrinkingMicroBatchesUseThePerSlotOverload()
    {
        // Two stages of 1 per sequence; micro-batch 0 holds 2 sequences in iteration 0 and 1 afterwards,
        // micro-batch 1 holds 1 throughout: it0 mb0 [0,2][2,4], mb1 [2,3][4,5]; it1 mb0 [4,5][5,6], mb1 [5,6][6,7].
        var t = PipelineTimeline.Build(2, 2, 2, (i, j, s) => j == 0 && i == 0 ? 2.0 : 1.0);
        Assert.That(t.Start(1, 0, 0), Is.EqualTo(4));
        Assert.That(t.Finish(1, 1, 1), Is.EqualTo(7));
        Assert.That(t.Makespan, Is.EqualTo(7));
    }

    [Test]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PipelineTimeline.Build([], 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PipelineTimeline.Build([1.0], 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PipelineTimeline.Build([1.0], 1, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PipelineTimeline.Build([-1.0], 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PipelineTimeline.Build([double.NaN], 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PipelineTimeline.Build([1.0], 1, 1, startOffset: -1));
        var t = PipelineTimeline.Build([1.0], 1, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Start(1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Finish(0, 0, 1));
        Assert.That(PipelineTimeline.Build([1.0], 1, 0, startOffset: 2).Makespan, Is.EqualTo(2));
    }
}
