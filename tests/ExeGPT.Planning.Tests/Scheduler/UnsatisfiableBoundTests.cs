using ExeGPT.Scheduler;
using ExeGPT.Simulator;

namespace ExeGPT.Planning.Tests.Scheduler;

[TestFixture]
public sealed class UnsatisfiableBoundTests
{
    [Test]
    public void ABoundNothingMeetsNamesTheTightestReachableLatency()
    {
        SimulationContext ctx = SchedulerScenarios.Context("opt-13b", "a40x4", "S");
        ScheduleOutcome outcome = XScheduler.Schedule(new ScheduleRequest(ctx, new Slo(SloKind.P99Length, 1e-3)));
        Assert.That(outcome.Satisfiable, Is.False);
        Assert.That(outcome.Best, Is.Null);
        Assert.That(outcome.TightestLatency, Is.Not.Null);

        // Independent check: the tightest latency is what the fastest configuration (one query per encoding,
        // all tensor parallelism, N_D = the longest output) gives, and no exhaustive point is faster.
        ScheduleOutcome all = XScheduler.Schedule(new ScheduleRequest(ctx, new Slo(SloKind.P99Length, 1e-3), Exhaustive: true));
        Assert.That(outcome.TightestLatency!.Value, Is.EqualTo(all.TightestLatency!.Value).Within(1e-9));
        Assert.That(outcome.Reason, Does.Contain("tightest the search reached").And.Contain($"{outcome.TightestLatency:F3} s"));
    }

    [Test]
    public void TtftAndTpotBoundsAreSearchedTogether()
    {
        SimulationContext ctx = SchedulerScenarios.Context("opt-13b", "a40x4", "C1");
        var slo = new Slo(SloKind.TtftTpot, double.PositiveInfinity, Ttft: 2.0, Tpot: 0.1);
        ScheduleOutcome outcome = XScheduler.Schedule(new ScheduleRequest(ctx, slo));
        Assert.That(outcome.Satisfiable, Is.True);
        Assert.That(outcome.Best!.Ttft.P99, Is.LessThanOrEqualTo(2.0 * 1.0000001));
        Assert.That(outcome.Best!.Tpot.P99, Is.LessThanOrEqualTo(0.1 * 1.0000001));
    }

    [Test]
    public void SlaAConstrainsTheP99OfAllQueries()
    {
        SimulationContext ctx = SchedulerScenarios.Context("opt-13b", "a40x4", "T");
        var slo = new Slo(SloKind.SlaA, 20);
        ScheduleOutcome outcome = XScheduler.Schedule(new ScheduleRequest(ctx, slo));
        Assert.That(outcome.Satisfiable, Is.True);
        Assert.That(outcome.Best!.EndToEnd.P99, Is.LessThanOrEqualTo(20));
    }

    [TestCase("0")]
    [TestCase("-3s")]
    [TestCase("fast")]
    [TestCase("")]
    public void ABadBoundIsRejectedWithItsText(string latency)
    {
        var e = Assert.Throws<ExeGPT.Core.SpecException>(() => Slo.Parse(latency, null));
        Assert.That(e!.Message, Does.Contain("--latency"));
    }

    [Test]
    public void DurationsParseWithUnits()
    {
        Assert.That(Slo.ParseSeconds("9.8s", "x"), Is.EqualTo(9.8));
        Assert.That(Slo.ParseSeconds("250ms", "x"), Is.EqualTo(0.25).Within(1e-12));
        Assert.That(Slo.ParseSeconds("inf", "x"), Is.EqualTo(double.PositiveInfinity));
        Assert.That(Slo.Parse(null, "ttft=1s,tpot=50ms"), Is.EqualTo(new Slo(SloKind.TtftTpot, double.PositiveInfinity, 1, 0.05)));
    }
}
