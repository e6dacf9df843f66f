using ExeGPT.Scheduler.Search;

namespace ExeGPT.Planning.Tests.Search;

/// <summary>The reference search: every point once, the best and the tightest latency by hand.</summary>
public class ExhaustiveSearchTests
{
    [Test]
    public void VisitsEveryPointOnceInLexicographicOrder()
    {
        var variables = new[] { new SearchVariable("a", [1, 2]), new SearchVariable("b", [10, 20, 30]) };
        var seen = new List<int[]>();
        PerfPoint Perf(ReadOnlySpan<int> v)
        {
            seen.Add(v.ToArray());
            return new(v[0] * v[1], v[0] + v[1], v[1] != 30);
        }
        var result = ExhaustiveSearch.Search(variables, Perf, new SearchOptions(21));
        int[][] expected = [[1, 10], [1, 20], [1, 30], [2, 10], [2, 20], [2, 30]];
        Assert.That(seen, Is.EqualTo(expected));
        Assert.That(result.Evaluated.Select(p => p.Values), Is.EqualTo(expected));
        Assert.That(result.Evaluations, Is.EqualTo(6));
        // Fitting and within 21: (1,10) → 10, (1,20) → 20, (2,10) → 20; ties go to the lower latency 12.
        Assert.That(result.Best?.Values, Is.EqualTo(new[] { 2, 10 }));
        Assert.That(result.TightestLatency, Is.EqualTo(11));
    }

    [Test]
    public void PointsKeepTheirOwnValues()
    {
        // The search reuses one buffer for the values it passes; stored points must not alias it.
        var variables = new[] { new SearchVariable("a", [4, 5, 6]) };
        var result = ExhaustiveSearch.Search(variables, v => new(v[0], 0, true), new SearchOptions(1));
        Assert.That(result.Evaluated.Select(p => p.Values[0]), Is.EqualTo(new[] { 4, 5, 6 }));
    }
}
