namespace ExeGPT.Scheduler.Search;

/// <summary>The throughput/latency trade-off curve of a set of evaluated points (what a user reads to pick a
/// latency bound).</summary>
public static class ParetoFrontier
{
    /// <summary>The points that fit and that no other fitting point dominates (at least as much throughput
    /// and at most as much latency, one of them strictly), sorted by latency ascending. Points with the same
    /// throughput and latency are all kept, in input order. Points with an unknown (NaN) throughput or
    /// latency cannot be compared and are left out.</summary>
    /// <param name="points">Typically <see cref="SearchResult.Evaluated"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="points"/> or one of its items is null.</exception>
    public static IReadOnlyList<EvaluatedPoint> Of(IEnumerable<EvaluatedPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var candidates = new List<(EvaluatedPoint Point, int Order)>();
        foreach (var p in points)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(points));
            if (p.Perf.Fits && !double.IsNaN(p.Perf.Throughput) && !double.IsNaN(p.Perf.Latency))
                candidates.Add((p, candidates.Count));
        }
        // Latency ascending, throughput descending: every point that could dominate p comes before it.
        candidates.Sort(static (a, b) =>
        {
            int c = a.Point.Perf.Latency.CompareTo(b.Point.Perf.Latency);
            if (c == 0) c = b.Point.Perf.Throughput.CompareTo(a.Point.Perf.Throughput);
            return c != 0 ? c : a.Order.CompareTo(b.Order);
        });

        var frontier = new List<EvaluatedPoint>();
        double maxThroughput = double.NegativeInfinity, latencyAtMax = double.NaN;
        foreach (var (p, _) in candidates)
        {
            double t = p.Perf.Throughput, l = p.Perf.Latency;
            // An earlier point has latency ≤ l, so p survives only with strictly more throughput than all of
            // them, or as an exact duplicate of the first point that reached the current maximum.
            if (frontier.Count == 0 || t > maxThroughput)
            {
                maxThroughput = t;
                latencyAtMax = l;
                frontier.Add(p);
            }
            else if (t == maxThroughput && l == latencyAtMax)
            {
                frontier.Add(p);
            }
        }
        return frontier;
    }
}
