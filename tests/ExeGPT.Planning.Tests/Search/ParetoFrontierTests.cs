using ExeGPT.Scheduler.Search;

namespace ExeGPT.Planning.Tests.Search;

/// <summary>The frontier of hand-made point sets.</summary>
public class ParetoFrontierTests
{
    private static EvaluatedPoint P(int id, double throughput, double latency, bool fits = true) =>
        new([id], new PerfPoint(throughput, latency, fits));

    [Test]
    public void KeepsUndominatedFittingPointsByLatency()
    {
        EvaluatedPoint[] points =
        [
            P(1, 10, 5),
            P(2, 8, 3),   // less throughput but faster: kept
            P(3, 9, 6),   // dominated by 1
            P(4, 12, 9),
            P(5, 20, 1, fits: false), // would dominate all, but does not fit
            P(6, 10, 7),  // dominated by 1 (same throughput, slower)
            P(7, 8, 3),   // duplicate of 2: neither dominates the other
            P(8, 7, 3),   // dominated by 2 (same latency, less throughput)
            P(9, double.NaN, 0.5), // unknown: left out
            P(10, 30, double.NaN),
        ];
        var frontier = ParetoFrontier.Of(points);
        Assert.That(frontier.Select(p => p.Values[0]), Is.EqualTo(new[] { 2, 7, 1, 4 }));
    }

    [Test]
    public void AgreesWithTheDefinitionOnRandomSets()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 50; trial++)
        {
            // Coarse values so that ties in one or both metrics are common.
            var points = Enumerable.Range(0, 40)
                .Select(i => P(i, rng.Next(10), rng.Next(10), rng.Next(5) != 0)).ToArray();
            bool Dominated(EvaluatedPoint p) => points.Any(q => q.Perf.Fits
                && q.Perf.Throughput >= p.Perf.Throughput && q.Perf.Latency <= p.Perf.Latency
                && (q.Perf.Throughput > p.Perf.Throughput || q.Perf.Latency < p.Perf.Latency));
            var expected = points.Where(p => p.Perf.Fits && !Dominated(p)).Select(p => p.Values[0]).ToHashSet();

            var frontier = ParetoFrontier.Of(points);
            Assert.That(frontier.Select(p => p.Values[0]), Is.EquivalentTo(expected));
            Assert.That(frontier.Select(p => p.Perf.Latency), Is.Ordered);
        }
    }

    [Test]
    public void EmptyAndNull()
    {
        Assert.That(ParetoFrontier.Of([]), Is.Empty);
        Assert.Throws<ArgumentNullException>(() => ParetoFrontier.Of(null!));
    }
}
