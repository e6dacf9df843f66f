using ExeGPT.Scheduler.Search;

namespace ExeGPT.Planning.Tests.Search;

/// <summary>Hand-solved problems, the paper's short-circuit, mixed directions, unknown points and bad input.</summary>
public class BranchAndBoundTests
{
    private static SearchOptions Bound(double bound) => new(bound, 0, 0);

    [TestCase(30.0, 8)] // latency 10 + 2b ≤ 30 → b ≤ 10 → the largest candidate is 8
    [TestCase(26.0, 8)] // exactly at the bound counts as meeting it
    [TestCase(25.9, 4)]
    [TestCase(12.0, 1)]
    public void OneVariable(double bound, int expected)
    {
        int[] batch = [1, 2, 4, 8, 16, 32];
        var variables = new[] { new SearchVariable("B", batch) };
        PerfPoint Perf(ReadOnlySpan<int> v) => new(v[0] / (1 + 0.1 * v[0]), 10 + 2 * v[0], true);

        foreach (var result in new[] { BranchAndBound.Search(variables, Perf, Bound(bound)), ExhaustiveSearch.Search(variables, Perf, Bound(bound)) })
        {
            Assert.That(result.Best?.Values, Is.EqualTo(new[] { expected }));
            Assert.That(result.Best!.Perf.Throughput, Is.EqualTo(expected / (1 + 0.1 * expected)).Within(1e-12));
            Assert.That(result.TightestLatency, Is.EqualTo(12.0));
        }
    }

    [TestCase(12.0, 6, 2)] // max 2x + y s.t. x·y ≤ 12: (6,2) → 14 beats (4,3) → 11 and (2,6) → 10
    [TestCase(36.0, 6, 6)] // the top corner meets the bound
    [TestCase(5.0, 5, 1)]  // (5,1) → 11 beats (2,2) → 6
    [TestCase(1.0, 1, 1)]
    public void TwoVariables(double bound, int x, int y)
    {
        var variables = new[] { new SearchVariable("x", [1, 2, 3, 4, 5, 6]), new SearchVariable("y", [1, 2, 3, 4, 5, 6]) };
        PerfPoint Perf(ReadOnlySpan<int> v) => new(2 * v[0] + v[1], v[0] * v[1], true);
        var result = BranchAndBound.Search(variables, Perf, Bound(bound));
        Assert.That(result.Best?.Values, Is.EqualTo(new[] { x, y }));
        Assert.That(result.Best!.Perf.Throughput, Is.EqualTo(2 * x + y));
    }

    [Test]
    public void TopCornerMeetingTheBoundIsTheAnswerAfterOneEvaluation()
    {
        var variables = new[] { new SearchVariable("x", [1, 2, 3]), new SearchVariable("y", [10, 20]), new SearchVariable("z", [5, 7]) };
        int calls = 0;
        PerfPoint Perf(ReadOnlySpan<int> v)
        {
            calls++;
            return new(v[0] + v[1] + v[2], v[0] * v[1] * v[2], true);
        }
        var result = BranchAndBound.Search(variables, Perf, new SearchOptions(double.PositiveInfinity));
        Assert.That(result.Evaluations, Is.EqualTo(1));
        Assert.That(calls, Is.EqualTo(1));
        Assert.That(result.Best?.Values, Is.EqualTo(new[] { 3, 20, 7 }));
        Assert.That(result.Evaluated, Has.Count.EqualTo(1));
    }

    // More GPUs g: less throughput and less latency (the paper's TP GPU count, direction −1 for both).
    // T = b·(8 − g), L = 12·b/g over b ∈ {1..4}, g ∈ {1, 2, 4}:
    //   bound 13: g=1 → b ≤ 1 (T 7); g=2 → b ≤ 2 (T 12); g=4 → b ≤ 4 (T 16)  ⇒ (4, 4)
    //   bound 7:  g=1 → none;        g=2 → b = 1 (T 6);  g=4 → b ≤ 2 (T 8)   ⇒ (2, 4)
    //   bound 2:  nothing; the tightest latency is 12·1/4 = 3
    [TestCase(13.0, 4, 4)]
    [TestCase(7.0, 2, 4)]
    public void ReversedVariable(double bound, int b, int g)
    {
        var result = BranchAndBound.Search(GpuVariables(), GpuPerf, Bound(bound));
        Assert.That(result.Best?.Values, Is.EqualTo(new[] { b, g }));
        Assert.That(result.Best!.Perf.Throughput, Is.EqualTo(b * (8 - g)));
    }

    [Test]
    public void UnsatisfiableBoundReportsTheTightestLatency()
    {
        var bb = BranchAndBound.Search(GpuVariables(), GpuPerf, Bound(2));
        var all = ExhaustiveSearch.Search(GpuVariables(), GpuPerf, Bound(2));
        Assert.That(bb.Best, Is.Null);
        Assert.That(all.Best, Is.Null);
        Assert.That(all.TightestLatency, Is.EqualTo(3.0));
        Assert.That(bb.TightestLatency, Is.EqualTo(3.0));
        Assert.That(bb.Evaluations, Is.LessThan(all.Evaluations));
    }

    [Test]
    public void NothingFitsGivesNoTightestLatency()
    {
        var variables = new[] { new SearchVariable("B", [1, 2, 3], MemoryDirection: 1), new SearchVariable("C", [1, 2], MemoryDirection: 1) };
        PerfPoint Perf(ReadOnlySpan<int> v) => new(v[0] + v[1], v[0] * v[1], false, "out of memory");
        var bb = BranchAndBound.Search(variables, Perf, Bound(100));
        Assert.That(bb.Best, Is.Null);
        Assert.That(bb.TightestLatency, Is.Null);
        // The memory corner (1, 1) does not fit, so the whole box is dropped after the top and memory corners.
        Assert.That(bb.Evaluations, Is.EqualTo(2));
        Assert.That(ExhaustiveSearch.Search(variables, Perf, Bound(100)).TightestLatency, Is.Null);
    }

    [Test]
    public void MemoryLimitCutsTheGrid()
    {
        // Memory b·c must stay ≤ 6; throughput b + c, latency b + c: bound 100 never binds, memory does.
        // Fitting points with the most throughput: (3, 2) and (2, 3) → 5; (6, 1) and (1, 6) → 7 is the max.
        int[] range = [1, 2, 3, 4, 5, 6];
        var variables = new[] { new SearchVariable("b", range, MemoryDirection: 1), new SearchVariable("c", range, MemoryDirection: 1) };
        PerfPoint Perf(ReadOnlySpan<int> v) => new(v[0] + v[1], v[0] + v[1], v[0] * v[1] <= 6);
        var result = BranchAndBound.Search(variables, Perf, Bound(100));
        Assert.That(result.Best!.Perf.Throughput, Is.EqualTo(7));
        Assert.That(result.Best.Values[0] * result.Best.Values[1], Is.EqualTo(6));
    }

    [Test]
    public void NonTradeOffVariableGoesToItsGoodEnd()
    {
        // f (a fused kernel on/off) raises throughput and lowers latency; b is the usual trade-off.
        // T = b·(1 + f), L = b·(2 − f): bound 9 → f = 1, b ≤ 9 → (9, 1) with T 18.
        var variables = new[]
        {
            new SearchVariable("b", [.. Enumerable.Range(1, 12)]),
            new SearchVariable("f", [0, 1], ThroughputDirection: 1, LatencyDirection: -1),
        };
        PerfPoint Perf(ReadOnlySpan<int> v) => new(v[0] * (1 + v[1]), v[0] * (2 - v[1]), true);
        var result = BranchAndBound.Search(variables, Perf, Bound(9));
        Assert.That(result.Best?.Values, Is.EqualTo(new[] { 9, 1 }));
    }

    [Test]
    public void UnknownTopCornerDoesNotStopTheSearch()
    {
        // The top corner's throughput is unknown; without it pruning everything the answer (3, 1) → 4 is found.
        var variables = new[] { new SearchVariable("x", [1, 2, 3]), new SearchVariable("y", [1, 2, 3]) };
        PerfPoint Perf(ReadOnlySpan<int> v) => v[0] == 3 && v[1] == 3
            ? new(double.NaN, 1, true)
            : new(v[0] + v[1], v[0] * v[1], true);
        var result = BranchAndBound.Search(variables, Perf, Bound(3));
        Assert.That(result.Best?.Values, Is.EqualTo(new[] { 3, 1 }).Or.EqualTo(new[] { 1, 3 }));
        Assert.That(result.Best!.Perf.Throughput, Is.EqualTo(4));
    }

    [Test]
    public void UnknownLatencyDoesNotPruneAndNeverWins()
    {
        var variables = new[] { new SearchVariable("x", [1, 2, 3, 4]) };
        // Every latency but x = 2's is far over the bound; x = 2 has an unknown latency, x = 1 meets it.
        PerfPoint Perf(ReadOnlySpan<int> v) => v[0] switch
        {
            1 => new(1, 1, true),
            2 => new(2, double.NaN, true),
            _ => new(v[0], 100, true),
        };
        var result = BranchAndBound.Search(variables, Perf, Bound(5));
        Assert.That(result.Best?.Values, Is.EqualTo(new[] { 1 }));
        Assert.That(result.TightestLatency, Is.EqualTo(1));
    }

    [Test]
    public void AllUnknownMeansNoAnswer()
    {
        var variables = new[] { new SearchVariable("x", [1, 2, 3]), new SearchVariable("y", [1, 2]) };
        PerfPoint Perf(ReadOnlySpan<int> v) => new(double.NaN, double.NaN, true);
        var result = BranchAndBound.Search(variables, Perf, Bound(10));
        Assert.That(result.Best, Is.Null);
        Assert.That(result.TightestLatency, Is.Null);
        Assert.That(result.Evaluations, Is.EqualTo(6), "nothing can be pruned, so every point is visited");
    }

    [Test]
    public void NoVariablesIsOnePoint()
    {
        int calls = 0;
        PerfPoint Perf(ReadOnlySpan<int> v)
        {
            calls++;
            Assert.That(v.Length, Is.Zero);
            return new(5, 1, true);
        }
        Assert.That(BranchAndBound.Search([], Perf, Bound(2)).Best!.Perf.Throughput, Is.EqualTo(5));
        Assert.That(ExhaustiveSearch.Search([], Perf, Bound(2)).Evaluations, Is.EqualTo(1));
        Assert.That(calls, Is.EqualTo(2));
    }

    [Test]
    public void BadInputIsRefused()
    {
        PerfPoint Perf(ReadOnlySpan<int> v) => new(1, 1, true);
        var good = new SearchVariable("x", [1]);
        Assert.Multiple(() =>
        {
            var empty = Assert.Throws<ArgumentException>(() => BranchAndBound.Search([new SearchVariable("B_E", [])], Perf, Bound(1)));
            Assert.That(empty!.Message, Does.Contain("B_E"));
            Assert.Throws<ArgumentException>(() => ExhaustiveSearch.Search([good, new SearchVariable("N_D", [])], Perf, Bound(1)));
            Assert.Throws<ArgumentException>(() => BranchAndBound.Search([good with { ThroughputDirection = 0 }], Perf, Bound(1)));
            Assert.Throws<ArgumentException>(() => BranchAndBound.Search([good with { LatencyDirection = 2 }], Perf, Bound(1)));
            Assert.Throws<ArgumentException>(() => BranchAndBound.Search([good with { MemoryDirection = -3 }], Perf, Bound(1)));
            Assert.Throws<ArgumentException>(() => BranchAndBound.Search([good], Perf, Bound(double.NaN)));
            Assert.Throws<ArgumentException>(() => BranchAndBound.Search([good], Perf, new SearchOptions(1, -0.1)));
            Assert.Throws<ArgumentException>(() => BranchAndBound.Search([good], Perf, new SearchOptions(1, 0, double.PositiveInfinity)));
            Assert.Throws<ArgumentNullException>(() => BranchAndBound.Search(null!, Perf, Bound(1)));
            Assert.Throws<ArgumentNullException>(() => BranchAndBound.Search([good], null!, Bound(1)));
            Assert.Throws<ArgumentNullException>(() => BranchAndBound.Search([good], Perf, null!));
        });
    }

    private static SearchVariable[] GpuVariables() =>
    [
        new("b", [1, 2, 3, 4]),
        new("g", [1, 2, 4], ThroughputDirection: -1, LatencyDirection: -1),
    ];

    private static PerfPoint GpuPerf(ReadOnlySpan<int> v) => new(v[0] * (8 - v[1]), 12.0 * v[0] / v[1], true);
}
