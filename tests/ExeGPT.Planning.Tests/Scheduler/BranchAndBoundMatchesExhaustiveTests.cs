using ExeGPT.Scheduler;
using ExeGPT.Simulator;

namespace ExeGPT.Planning.Tests.Scheduler;

/// <summary>The acceptance property of XScheduler: branch-and-bound over the simulator finds the same optimum
/// as enumerating the whole grid (within ε_T), with far fewer simulator calls, in every scenario of the matrix.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class BranchAndBoundMatchesExhaustiveTests
{
    private const double Epsilon = 0.02;

    [TestCaseSource(typeof(SchedulerScenarios), nameof(SchedulerScenarios.All))]
    public void SameOptimumWithFewerEvaluations(string model, string cluster, string task, double factor)
    {
        SimulationContext ctx = SchedulerScenarios.Context(model, cluster, task);
        var slo = new Slo(SloKind.P99Length, SchedulerScenarios.Bound(ctx, factor));
        var request = new ScheduleRequest(ctx, slo, MaxBatch: 256, ThroughputTolerance: Epsilon, LatencyTolerance: Epsilon);

        ScheduleOutcome bb = XScheduler.Schedule(request);
        ScheduleOutcome exhaustive = XScheduler.Schedule(request with { Exhaustive = true });

        Assert.That(bb.Satisfiable, Is.EqualTo(exhaustive.Satisfiable), "satisfiability");
        if (exhaustive.Best is { } best)
        {
            Assert.That(bb.Best!.ThroughputSeqPerS, Is.GreaterThanOrEqualTo(best.ThroughputSeqPerS * (1 - Epsilon)),
                $"B&B chose {bb.Best.Schedule}, exhaustive {best.Schedule}");
            Assert.That(slo.Metric(bb.Best), Is.LessThanOrEqualTo(slo.Bound), "B&B's choice meets the bound");
        }
        Assert.That(bb.Evaluations, Is.LessThan(exhaustive.Evaluations / 3),
            $"B&B used {bb.Evaluations} simulator calls, exhaustive {exhaustive.Evaluations}");
    }

    [Test]
    public void TheMatrixHasAtLeastSixtyScenarios() =>
        Assert.That(SchedulerScenarios.All().Count(), Is.GreaterThanOrEqualTo(60));
}
