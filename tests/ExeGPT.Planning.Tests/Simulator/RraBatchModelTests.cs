using ExeGPT.Simulator;
using static ExeGPT.Planning.Tests.Simulator.HandSpecs;

namespace ExeGPT.Planning.Tests.Simulator;

/// <summary>The RRA decode batch: Little's law against the paper's formula on a hand pmf, and which one the
/// event-level simulation (individual queries, B_E encoded per cycle) actually measures.
///
/// Output lengths {2: ½, 4: ½} on a decoder-only model → decode steps d ∈ {1, 3}, E[d] = 2. B_E = 8.
///   N_D = 2: ⌈d/2⌉ ∈ {1, 2}.
///     Little's law, start of a phase: B_E·E[⌈d/N_D⌉] = 8·1.5 = 12 (8 new + the 4 long ones from the last cycle);
///       iteration 2 holds only the new long ones: 4; mean over the phase B_E·E[d]/N_D = 8·2/2 = 8.
///     Paper: B_D = B_E / E[1/⌈d/N_D⌉] = 8 / (½·1 + ½·½) = 10.667; P_D(U=1) = ½ + ½·½ = ¾, P_D(2) = 0, so
///       iteration 2 holds B_D·(1 − ¾) = 2.667; mean (10.667 + 2.667)/2 = 6.667.
///   N_D = 1: Little B_E·E[d] = 16 every iteration; paper B_E / E[1/d] = 8 / (½ + ½·⅓) = 12.</summary>
public class RraBatchModelTests
{
    private static SimulationContext Ctx(RraBatchModel model) => Context(Model(), Cluster(1), Pmf(4, (2, 0.5), (4, 0.5)),
        new HandProfile { PrefillPerToken = 1 * Ms, DecodeFixed = 10 * Ms, DecodePerSequence = 1 * Ms, DecodeAttentionPerToken = 0.01 * Ms },
        new SimulationOptions(RraBatch: model));

    private static Schedule Rra(int nd) => new(Policy.Rra, EncoderBatch: 8, DecodeIterations: nd);

    [TestCase(2, 12.0, 8.0)]
    [TestCase(1, 16.0, 16.0)]
    public void LittlesLawIsTheDefault(int nd, double startOfPhase, double mean)
    {
        var r = XSimulator.Simulate(Ctx(RraBatchModel.LittlesLaw), Rra(nd));
        Assert.That(r.PeakDecodeBatch, Is.EqualTo(startOfPhase).Within(1e-9));
        Assert.That(r.DecodeBatch, Is.EqualTo(mean).Within(1e-9));
    }

    [TestCase(2, 8 / 0.75)]
    [TestCase(1, 12.0)]
    public void PaperBatchAtTheStartOfAPhase(int nd, double startOfPhase)
    {
        var r = XSimulator.Simulate(Ctx(RraBatchModel.Paper), Rra(nd));
        Assert.That(r.PeakDecodeBatch, Is.EqualTo(startOfPhase).Within(1e-9));
    }

    [Test]
    public void PaperBatchShrinksByThePapersCompletions()
    {
        // Iteration 2 should hold 10.667·(1 − ¾) = 2.667 (mean 6.667); the model drops it to 0 (mean 5.333).
        var r = XSimulator.Simulate(Ctx(RraBatchModel.Paper), Rra(2));
        Assert.That(r.DecodeBatch, Is.EqualTo((8 / 0.75 + 8 / 0.75 * 0.25) / 2).Within(1e-9));
    }

    [TestCase(2, 8.0, 20.0 / 3)]
    [TestCase(1, 16.0, 12.0)]
    public void EventLevelBatchFollowsLittlesLawNotThePaper(int nd, double little, double paper)
    {
        var r = XSimulator.Simulate(Ctx(RraBatchModel.LittlesLaw), Rra(nd), SimulationMode.Event);
        TestContext.Out.WriteLine(FormattableString.Invariant($"N_D={nd}: event mean decode batch {r.DecodeBatch:F3}; Little {little:F3}; paper {paper:F3}"));
        Assert.That(r.QueriesMeasured, Is.GreaterThan(1000));
        Assert.That(Math.Abs(r.DecodeBatch / little - 1), Is.Not.NaN.And.LessThan(0.03));
        Assert.That(Math.Abs(r.DecodeBatch / paper - 1), Is.GreaterThan(0.03));
    }

    [Test]
    public void LittlesLawThroughputAgreesWithTheEventLevelRun()
    {
        // The batch feeds the step time, so the model that gets the batch right gets the cycle right.
        var expected = XSimulator.Simulate(Ctx(RraBatchModel.LittlesLaw), Rra(2));
        var evented = XSimulator.Simulate(Ctx(RraBatchModel.LittlesLaw), Rra(2), SimulationMode.Event);
        Assert.That(evented.ThroughputSeqPerS, Is.EqualTo(expected.ThroughputSeqPerS).Within(3).Percent);
    }
}
