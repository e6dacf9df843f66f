using System.Diagnostics;
using ExeGPT.Scheduler.Search;
using ExeGPT.Simulator;

namespace ExeGPT.Scheduler;

/// <summary>What to schedule.</summary>
/// <param name="Context">Model, cluster, workload and profile.</param>
/// <param name="Slo">The latency objective.</param>
/// <param name="Policies">Families to search (default: RRA, WAA-C, WAA-M).</param>
/// <param name="Exhaustive">Enumerate the whole grid instead of branch-and-bound (for verification).</param>
/// <param name="ThroughputTolerance">ε_T (fraction of the incumbent).</param>
/// <param name="LatencyTolerance">ε_L (fraction of the bound).</param>
/// <param name="MaxBatch">Largest B_E (and baseline batch) in the grid.</param>
public sealed record ScheduleRequest(SimulationContext Context, Slo Slo, IReadOnlyList<Policy>? Policies = null,
    bool Exhaustive = false, double ThroughputTolerance = 0.02, double LatencyTolerance = 0.02, int MaxBatch = 512)
{
    /// <summary>The paper's three policies.</summary>
    public static readonly IReadOnlyList<Policy> PaperPolicies = [Policy.Rra, Policy.WaaC, Policy.WaaM];
}

/// <summary>One point of the throughput/latency frontier.</summary>
/// <param name="Schedule">The schedule.</param>
/// <param name="ThroughputSeqPerS">Predicted throughput.</param>
/// <param name="Latency">Its value of the SLO metric.</param>
public sealed record FrontierPoint(Schedule Schedule, double ThroughputSeqPerS, double Latency);

/// <summary>One (policy, TP degree, TP groups) search.</summary>
/// <param name="Policy">The policy.</param>
/// <param name="TpDegree">The fixed TP degree.</param>
/// <param name="TpGroups">The fixed number of TP groups.</param>
/// <param name="Best">Its best schedule meeting the SLO, or null.</param>
/// <param name="Evaluations">Simulator calls this search added.</param>
/// <param name="ElapsedMs">Wall time.</param>
public sealed record SearchReport(Policy Policy, int TpDegree, int TpGroups, SimulationResult? Best, int Evaluations, double ElapsedMs);

/// <summary>The scheduler's answer.</summary>
/// <param name="Satisfiable">Some schedule meets the SLO.</param>
/// <param name="Best">The highest-throughput schedule meeting it (its simulation), or null.</param>
/// <param name="Searches">Every (policy, TP degree) search.</param>
/// <param name="Frontier">Pareto frontier (throughput vs SLO metric) of every schedule evaluated that fits.</param>
/// <param name="Evaluations">Simulator calls in all.</param>
/// <param name="ElapsedMs">Wall time in all.</param>
/// <param name="TightestLatency">The lowest SLO metric reachable among schedules that fit, or null.</param>
/// <param name="Reason">Why nothing was chosen, or null.</param>
public sealed record ScheduleOutcome(bool Satisfiable, SimulationResult? Best, IReadOnlyList<SearchReport> Searches,
    IReadOnlyList<FrontierPoint> Frontier, int Evaluations, double ElapsedMs, double? TightestLatency, string? Reason);

/// <summary>The paper's XScheduler: for each policy and TP degree, branch-and-bound over the control variables
/// with the simulator as perf(); the best throughput meeting the SLO wins.</summary>
public static class XScheduler
{
    /// <summary>Searches every requested policy and returns the best schedule, the frontier and the cost.</summary>
    public static ScheduleOutcome Schedule(ScheduleRequest request)
    {
        var clock = Stopwatch.StartNew();
        SimulationContext ctx = request.Context;
        Slo slo = request.Slo;
        var options = new SearchOptions(slo.Bound, request.ThroughputTolerance, request.LatencyTolerance);
        var reports = new List<SearchReport>();
        var evaluated = new List<(Schedule, EvaluatedPoint)>();
        SimulationResult? best = null;
        double? tightest = null;
        // One cache of simulations for the whole request: evaluations = distinct simulator calls.
        var results = new Dictionary<Schedule, SimulationResult>();
        SimulationResult Simulate(Schedule schedule)
        {
            if (!results.TryGetValue(schedule, out SimulationResult? r))
                results[schedule] = r = XSimulator.Simulate(ctx, schedule);
            return r;
        }

        var spaces = new List<SearchSpace>();
        foreach (Policy policy in request.Policies ?? ScheduleRequest.PaperPolicies)
            spaces.AddRange(SearchSpace.For(ctx, policy, request.MaxBatch));
        if (!request.Exhaustive)
        {
            // Most promising layouts first (by the throughput at each one's throughput corner, unknown first),
            // so the incumbent is high early and later layouts are dismissed after a corner or two.
            var promise = new Dictionary<SearchSpace, double>();
            foreach (SearchSpace space in spaces)
            {
                double t = Simulate(space.ToSchedule(space.ThroughputCorner())).ThroughputSeqPerS;
                promise[space] = double.IsNaN(t) ? double.PositiveInfinity : t;
            }
            spaces.Sort((a, b) => promise[b].CompareTo(promise[a]));
        }

        foreach (SearchSpace space in spaces)
        {
            var clockSpace = Stopwatch.StartNew();
            int before = results.Count;
            PerfPoint Perf(ReadOnlySpan<int> values)
            {
                SimulationResult r = Simulate(space.ToSchedule(values.ToArray()));
                return new PerfPoint(r.ThroughputSeqPerS, slo.Metric(r), r.Feasible, r.Reason);
            }
            // Later searches start from the best found so far, so a layout that cannot beat it costs a
            // corner evaluation or two instead of a search.
            SearchResult result = request.Exhaustive
                ? ExhaustiveSearch.Search(space.Variables, Perf, options)
                : BranchAndBound.Search(space.Variables, Perf,
                    options with { IncumbentThroughput = best?.ThroughputSeqPerS ?? double.NegativeInfinity });
            SimulationResult? spaceBest = result.Best is null ? null : results[space.ToSchedule(result.Best.Values)];
            reports.Add(new SearchReport(space.Policy, space.TpDegree, space.TpGroups, spaceBest, results.Count - before,
                clockSpace.Elapsed.TotalMilliseconds));
            foreach (EvaluatedPoint p in result.Evaluated)
                evaluated.Add((space.ToSchedule(p.Values), p));
            if (result.TightestLatency is double t && (tightest is null || t < tightest))
                tightest = t;
            if (spaceBest is not null && (best is null || spaceBest.ThroughputSeqPerS > best.ThroughputSeqPerS
                || (spaceBest.ThroughputSeqPerS == best.ThroughputSeqPerS && slo.Metric(spaceBest) < slo.Metric(best))))
                best = spaceBest;
        }
        int evaluations = results.Count;
        var frontier = new List<FrontierPoint>();
        var bySchedule = new Dictionary<EvaluatedPoint, Schedule>(ReferenceEqualityComparer.Instance);
        foreach (var (schedule, point) in evaluated) bySchedule[point] = schedule;
        foreach (EvaluatedPoint p in ParetoFrontier.Of(bySchedule.Keys))
            frontier.Add(new FrontierPoint(bySchedule[p], p.Perf.Throughput, p.Perf.Latency));
        string? reason = best is not null ? null : tightest is double tl
            ? $"no schedule meets {slo}; the tightest {(request.Exhaustive ? "reachable" : "the search reached")} is {Describe(slo, tl)}"
            : $"no schedule fits model '{ctx.Model.Name}' on cluster '{ctx.Cluster.Name}': {CommonReason(results.Values)}";
        return new ScheduleOutcome(best is not null, best, reports, frontier, evaluations, clock.Elapsed.TotalMilliseconds, tightest, reason);
    }

    /// <summary>The most frequent reason among infeasible simulations (or that there was nothing to search).</summary>
    private static string CommonReason(IEnumerable<SimulationResult> results)
    {
        var counts = new Dictionary<string, int>();
        foreach (SimulationResult r in results)
        {
            if (r.Reason is null) continue;
            // Group by the kind of reason, not its numbers ("out of memory on device 3 ..." -> "out of memory").
            string key = r.Reason.Split(':', 2)[0];
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        if (counts.Count == 0)
            return "not even one query's KV cache fits beside the weights";
        var top = counts.MaxBy(kv => kv.Value);
        string example = results.First(r => r.Reason is not null && r.Reason.StartsWith(top.Key, StringComparison.Ordinal)).Reason!;
        return $"{example} (and {top.Value - 1} more like it)";
    }

    private static string Describe(Slo slo, double metric) => slo.Kind == SloKind.TtftTpot
        ? $"{metric:F2}x the TTFT/TPOT bounds"
        : $"{metric:F3} s";
}
