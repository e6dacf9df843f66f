using ExeGPT.Core;
using ExeGPT.Core.Workloads;

namespace ExeGPT.Planning.Tests.Specs;

public class WorkloadSamplerTests
{
    [Test]
    public void SameSeedSameQueriesAndStreamAgrees()
    {
        WorkloadSpec w = TaskPresets.Get("T", correlation: 0.5);
        IReadOnlyList<QueryLengths> a = WorkloadSampler.Sample(w, 1000, 123);
        IReadOnlyList<QueryLengths> b = WorkloadSampler.Sample(w, 1000, 123);
        IReadOnlyList<QueryLengths> c = WorkloadSampler.Sample(w, 1000, 124);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(c, Is.Not.EqualTo(a));
        Assert.That(WorkloadSampler.Stream(w, 123).Take(1000), Is.EqualTo(a));
        Assert.That(a, Has.All.Matches<QueryLengths>(q => q.InputLength is >= 1 and <= 256 && q.OutputLength is >= 1 and <= 320));
    }

    [TestCase("S")]
    [TestCase("G")]
    [TestCase("C2")]
    public void MarginalMeansWithinTwoPercent(string id)
    {
        WorkloadSpec w = TaskPresets.Get(id);
        IReadOnlyList<QueryLengths> s = WorkloadSampler.Sample(w, 50_000, 2024);
        Assert.That(s.Average(q => q.InputLength), Is.EqualTo(w.Input.Mean).Within(0.02 * w.Input.Mean));
        Assert.That(s.Average(q => q.OutputLength), Is.EqualTo(w.Output.Mean).Within(0.02 * w.Output.Mean));
    }

    [Test]
    public void IndependentWhenCorrelationIsZero()
    {
        IReadOnlyList<QueryLengths> s = WorkloadSampler.Sample(TaskPresets.Get("C1"), 50_000, 9);
        Assert.That(Math.Abs(TraceReader.Pearson(s)), Is.LessThan(0.02));   // sd of r is ~1/√n = 0.0045
    }

    [TestCase(0.8)]
    [TestCase(-0.6)]
    public void CopulaAchievesTheCorrelation(double rho)
    {
        WorkloadSpec w = TaskPresets.Get("T", rho);
        IReadOnlyList<QueryLengths> s = WorkloadSampler.Sample(w, 50_000, 77);
        Assert.That(TraceReader.Pearson(s), Is.EqualTo(rho).Within(0.03));
        // The copula leaves the marginals alone.
        Assert.That(s.Average(q => q.OutputLength), Is.EqualTo(w.Output.Mean).Within(0.02 * w.Output.Mean));
    }

    [Test]
    public void TraceRowsAreDrawnUniformlyWithReplacement()
    {
        var rows = new QueryLengths[] { new(1, 100), new(2, 200), new(3, 300), new(4, 400) };
        WorkloadSpec w = TraceReader.FromRows("four", rows);
        IReadOnlyList<QueryLengths> s = WorkloadSampler.Sample(w, 40_000, 5);
        Assert.That(s, Has.All.Matches<QueryLengths>(q => q.OutputLength == 100 * q.InputLength), "rows stay whole");
        foreach (QueryLengths row in rows)
            Assert.That(s.Count(q => q == row), Is.InRange(10_000 - 520, 10_000 + 520));   // ±6 sd of Binomial(40000, ¼)
    }

    [Test]
    public void InvalidRequestsAreRejected()
    {
        WorkloadSpec w = TaskPresets.Get("S");
        Assert.That(() => WorkloadSampler.Sample(w with { Correlation = 2 }, 5, 1),
            Throws.TypeOf<SpecException>().With.Message.Contain("correlation"));
        Assert.That(() => WorkloadSampler.Sample(w with { Trace = [] }, 5, 1),
            Throws.TypeOf<SpecException>().With.Message.Contain("no rows"));
        Assert.That(() => WorkloadSampler.Sample(w, -1, 1), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(WorkloadSampler.Sample(w, 0, 1), Is.Empty);
    }
}
