using ExeGPT.Scheduler.Search;

namespace ExeGPT.Planning.Tests.Search;

/// <summary>Branch-and-bound against the direct enumeration of random 2–4 variable problems.</summary>
public class RandomInstanceTests
{
    private static readonly SearchOptions Exact = new(0, ThroughputTolerance: 0, LatencyTolerance: 0);

    private static MonotoneInstance Make(Random rng, double noise = 0, bool allowNonMonotoneMemory = true)
    {
        int d = rng.Next(2, 5);
        // Grids of roughly 50–1300 points, so a search has something to save.
        var (min, max) = d switch { 2 => (6, 24), 3 => (4, 10), _ => (3, 6) };
        return new MonotoneInstance(rng, d, min, max, noise, allowNonMonotoneMemory);
    }

    [Test]
    public void MonotoneInstancesMatchEnumerationWithFewerEvaluations()
    {
        var rng = new Random(20240427);
        int binding = 0, unsatisfiable = 0;
        double ratioSum = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var instance = Make(rng);
            var (best, tightest) = instance.Reference();
            var options = Exact with { LatencyBound = instance.LatencyBound };

            var bb = BranchAndBound.Search(instance.Variables, instance.Perf, options);
            string what = $"trial {trial}";
            Assert.That(bb.Best?.Perf.Throughput, Is.EqualTo(best), what);
            Assert.That(bb.Evaluations, Is.EqualTo(instance.Calls), $"{what}: each point evaluated once");
            Assert.That(bb.Evaluated, Has.Count.EqualTo(bb.Evaluations));
            if (bb.Best is { } found) Assert.That(found.Perf.Satisfies(instance.LatencyBound), what);
            if (bb.TightestLatency is { } t) Assert.That(t, Is.GreaterThanOrEqualTo(tightest!.Value), what);
            // With an unsatisfiable bound the scheduler reports the tightest latency, so the search must
            // have probed the latency corner (when it fits, it is the true minimum).
            if (best is null && instance.At(instance.LatencyCorner()).Fits)
                Assert.That(bb.TightestLatency, Is.EqualTo(tightest), $"{what}: the latency corner is probed");

            var all = ExhaustiveSearch.Search(instance.Variables, instance.Perf, options);
            Assert.That(all.Best?.Perf.Throughput, Is.EqualTo(best), what);
            Assert.That(all.TightestLatency, Is.EqualTo(tightest), what);
            Assert.That(all.Evaluations, Is.EqualTo(instance.PointCount), what);

            if (best is null) unsatisfiable++;
            // The efficiency claim is about problems where the bound binds (not settled by the top corner).
            if (best is not null && bb.Evaluations > 1)
            {
                binding++;
                ratioSum += (double)bb.Evaluations / all.Evaluations;
            }
        }
        Assert.That(binding, Is.GreaterThan(150), "the generator must mostly produce binding bounds");
        Assert.That(unsatisfiable, Is.GreaterThan(10), "the generator must produce unsatisfiable problems");
        Assert.That(ratioSum / binding, Is.LessThan(0.5), "branch-and-bound evaluates far fewer points on average");
    }

    [Test]
    public void MildlyNonMonotoneInstancesAreWithinTolerance()
    {
        const double epsilon = 0.02;
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            // Noise of ε/4 keeps every block bound off by less than the tolerances can absorb.
            var instance = Make(rng, noise: epsilon / 4, allowNonMonotoneMemory: false);
            var options = new SearchOptions(instance.LatencyBound, epsilon, epsilon);
            var reference = ExhaustiveSearch.Search(instance.Variables, instance.Perf, options);
            var bb = BranchAndBound.Search(instance.Variables, instance.Perf, options);
            var (best, _) = instance.Reference();
            Assert.That(reference.Best?.Perf.Throughput, Is.EqualTo(best));
            if (best is null)
            {
                Assert.That(bb.Best, Is.Null, $"trial {trial}");
                continue;
            }
            Assert.That(bb.Best, Is.Not.Null, $"trial {trial}");
            Assert.That(bb.Best!.Perf.Satisfies(instance.LatencyBound), $"trial {trial}");
            Assert.That(bb.Best.Perf.Throughput, Is.GreaterThanOrEqualTo(best.Value * (1 - epsilon)), $"trial {trial}");
        }
    }

    [Test]
    public void UnknownPointsNeitherPruneNorWin()
    {
        var rng = new Random(99);
        for (int trial = 0; trial < 100; trial++)
        {
            var instance = Make(rng);
            int salt = trial;
            // About a fifth of the points have an unknown throughput or latency (or both).
            instance.Unknown = index =>
            {
                int h = HashCode.Combine(salt, index.Aggregate(17, (a, k) => a * 31 + k));
                int r = (h & 0x7fffffff) % 15;
                return (r is 0 or 2, r is 1 or 2);
            };
            var (best, tightest) = instance.Reference();
            var options = Exact with { LatencyBound = instance.LatencyBound };
            var bb = BranchAndBound.Search(instance.Variables, instance.Perf, options);
            Assert.That(bb.Best?.Perf.Throughput, Is.EqualTo(best), $"trial {trial}");
            if (bb.Best is { } found) Assert.That(double.IsNaN(found.Perf.Throughput), Is.False);
            var all = ExhaustiveSearch.Search(instance.Variables, instance.Perf, options);
            Assert.That(all.Best?.Perf.Throughput, Is.EqualTo(best), $"trial {trial}");
            Assert.That(all.TightestLatency, Is.EqualTo(tightest), $"trial {trial}");
        }
    }

    [Test]
    public void TolerancesOnlyEverWidenTheSearch()
    {
        // Larger ε keeps more blocks (lines 14/18), so on monotone problems it finds the same optimum.
        var rng = new Random(3);
        for (int trial = 0; trial < 60; trial++)
        {
            var instance = Make(rng);
            var (best, _) = instance.Reference();
            var loose = BranchAndBound.Search(instance.Variables, instance.Perf, new SearchOptions(instance.LatencyBound, 0.1, 0.1));
            Assert.That(loose.Best?.Perf.Throughput, Is.EqualTo(best), $"trial {trial}");
        }
    }
}
