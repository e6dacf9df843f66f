using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Simulator;

namespace ExeGPT.Scheduler.Paper;

/// <summary>The paper's evaluation (§7.1–7.3) on analytic profiles: for each model, cluster and task, the
/// latency bounds are derived from FasterTransformer-style static batching as the paper does — run FT at batch
/// sizes 1, 4, 8, … up to the largest that fits, take the bottom 10%, 30% and 70% of those latencies, plus ∞ —
/// and for each bound ExeGPT's best schedule (RRA, WAA-C, WAA-M under the p99-length SLO) is compared with
/// FT's best batch meeting the same bound.</summary>
public static class PaperEvaluation
{
    /// <summary>Runs <paramref name="scenarios"/> (default: <see cref="PaperScenario.All"/>), cells in parallel.</summary>
    /// <exception cref="SpecException">A scenario names an unknown model, cluster or task, or the options are out of range.</exception>
    public static PaperReport Run(IReadOnlyList<PaperScenario>? scenarios = null, PaperOptions? options = null)
    {
        var clock = Stopwatch.StartNew();
        scenarios ??= PaperScenario.All;
        options ??= new PaperOptions();
        Check(options);
        IReadOnlyList<double> fractions = options.BoundFractions ?? PaperOptions.PaperFractions;

        // Resolve every name before any work, so a typo fails at once; profiles are immutable and shared.
        var profiles = new Dictionary<string, (ModelSpec, ClusterSpec, ProfileTables)>();
        var cells = new List<(string Key, ModelSpec Model, ClusterSpec Cluster, ProfileTables Profile, WorkloadSpec Workload)>();
        var seen = new HashSet<string>();
        foreach (PaperScenario s in scenarios)
        {
            if (!profiles.TryGetValue(s.Name, out var mcp))
            {
                ModelSpec model = ModelPresets.Get(s.Model);
                ClusterSpec cluster = ClusterPresets.Get(s.Cluster);
                mcp = (model, cluster, AnalyticProfile.Build(model, cluster));
                profiles[s.Name] = mcp;
            }
            if (s.Tasks.Count == 0)
                throw new SpecException($"paper scenario '{s.Name}': no tasks (expected some of {string.Join(", ", TaskPresets.Names)})");
            foreach (string task in s.Tasks)
            {
                WorkloadSpec workload = TaskPresets.Get(task);
                string key = CellKey(s, workload.Name);
                if (seen.Add(key))
                    cells.Add((key, mcp.Item1, mcp.Item2, mcp.Item3, workload));
            }
        }

        // Bigger clusters have more (TP degree, groups) searches: start them first so the tail is short.
        int[] order = [.. Enumerable.Range(0, cells.Count).OrderByDescending(i => cells[i].Cluster.TotalDevices)];
        var results = new ConcurrentDictionary<string, CellResult>();
        int threads = options.MaxParallelism > 0 ? options.MaxParallelism : Environment.ProcessorCount;
        try
        {
            Parallel.ForEach(Partitioner.Create(order, EnumerablePartitionerOptions.NoBuffering),
                new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelism },
                i =>
                {
                    var c = cells[i];
                    // SimulationContext caches are not thread-safe: one per cell.
                    var ctx = new SimulationContext(c.Model, c.Cluster, c.Workload, c.Profile);
                    results[c.Key] = EvaluateCell(ctx, fractions, options);
                });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1 && e.InnerExceptions[0] is SpecException spec)
        {
            throw new SpecException(spec.Message, spec);
        }

        var rows = new List<PaperRow>();
        var baselines = new Dictionary<string, IReadOnlyList<BaselinePoint>>();
        foreach (PaperScenario s in scenarios)
            foreach (string task in s.Tasks)
            {
                string id = TaskPresets.Get(task).Name;
                CellResult r = results[CellKey(s, id)];
                baselines[CellKey(s, id)] = r.Sweep;
                foreach (Outcome o in r.Outcomes)
                    rows.Add(new PaperRow(s.Group, s.Model, s.Cluster, id, o.Label, o.BoundS, o.Ft?.Batch, o.Ft?.ThroughputSeqPerS,
                        o.Ft?.LatencyS, o.Best?.Schedule, o.Best?.ThroughputSeqPerS, o.Best?.LatencyS, o.Evaluations, o.Reason));
            }
        return new PaperReport(scenarios, rows, baselines, Summarize(rows, clock.Elapsed.TotalSeconds, Math.Min(threads, Math.Max(1, cells.Count))));
    }

    /// <summary>FT (static batching) at batch sizes 1, <paramref name="step"/>, 2·step, … up to
    /// <paramref name="cap"/>, stopping at the first that does not fit (memory grows with the batch).</summary>
    public static IReadOnlyList<BaselinePoint> StaticSweep(SimulationContext context, int step = 4, int cap = 1024)
    {
        ArgumentNullException.ThrowIfNull(context);
        var points = new List<BaselinePoint>();
        for (int b = 1; b <= cap; b = b == 1 && step > 1 ? step : b + step)
        {
            SimulationResult r = XSimulator.Simulate(context, new Schedule(Policy.Static, b));
            if (!r.Feasible)
                break;
            points.Add(new BaselinePoint(b, r.ThroughputSeqPerS, r.LatencyS));
        }
        return points;
    }

    /// <summary>The "bottom <paramref name="fraction"/>" of <paramref name="latencies"/> by nearest rank: the
    /// ⌈fraction·n⌉-th smallest (at least the smallest), so the bound is a latency FT actually reaches.</summary>
    /// <exception cref="ArgumentException">No latencies, or a fraction outside (0, 1].</exception>
    public static double BottomPercentile(IReadOnlyList<double> latencies, double fraction)
    {
        ArgumentNullException.ThrowIfNull(latencies);
        if (latencies.Count == 0)
            throw new ArgumentException("no latencies to take a percentile of", nameof(latencies));
        if (!(fraction > 0 && fraction <= 1))
            throw new ArgumentException($"fraction must be in (0, 1], got {fraction.ToString(CultureInfo.InvariantCulture)}", nameof(fraction));
        double[] sorted = [.. latencies];
        Array.Sort(sorted);
        int rank = (int)Math.Ceiling(fraction * sorted.Length - 1e-9);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }

    /// <summary>"p10" for 0.1.</summary>
    public static string BoundLabel(double fraction) =>
        "p" + (fraction * 100).ToString("0.##", CultureInfo.InvariantCulture);

    private sealed record Outcome(string Label, double BoundS, BaselinePoint? Ft, SimulationResult? Best, int Evaluations, string? Reason);

    private sealed record CellResult(IReadOnlyList<BaselinePoint> Sweep, IReadOnlyList<Outcome> Outcomes);

    private static CellResult EvaluateCell(SimulationContext ctx, IReadOnlyList<double> fractions, PaperOptions options)
    {
        IReadOnlyList<BaselinePoint> sweep = StaticSweep(ctx, options.StaticBatchStep, options.StaticBatchCap);
        double[] latencies = [.. sweep.Select(p => p.LatencyS)];
        var bounds = new List<(string, double)>();
        foreach (double f in fractions)
            bounds.Add((BoundLabel(f), latencies.Length > 0 ? BottomPercentile(latencies, f) : double.NaN));
        bounds.Add(("inf", double.PositiveInfinity));

        var outcomes = new List<Outcome>();
        foreach (var (label, bound) in bounds)
        {
            if (double.IsNaN(bound))
            {
                outcomes.Add(new Outcome(label, bound, null, null, 0,
                    $"FT fits no batch on cluster '{ctx.Cluster.Name}', so no bound was derived"));
                continue;
            }
            BaselinePoint? ft = null;
            foreach (BaselinePoint p in sweep)
                if (p.LatencyS <= bound && (ft is null || p.ThroughputSeqPerS > ft.ThroughputSeqPerS))
                    ft = p;
            ScheduleOutcome o = XScheduler.Schedule(new ScheduleRequest(ctx, new Slo(SloKind.P99Length, bound),
                MaxBatch: options.MaxBatch));
            outcomes.Add(new Outcome(label, bound, ft, o.Best, o.Evaluations, o.Best is null ? o.Reason : null));
        }
        return new CellResult(sweep, outcomes);
    }

    private static PaperSummary Summarize(IReadOnlyList<PaperRow> rows, double wallSeconds, int threads)
    {
        static double? Mean(IEnumerable<double> values)
        {
            double[] v = [.. values];
            return v.Length == 0 ? null : v.Average();
        }
        var distinct = new Dictionary<string, PaperRow>();
        foreach (PaperRow r in rows)
            distinct.TryAdd(r.Cell, r);
        PaperRow? max = null;
        foreach (PaperRow r in distinct.Values)
            if (r.Gain is double g && (max is null || g > max.Gain))
                max = r;
        return new PaperSummary(
            Mean(rows.Where(r => r.Group == PaperGroup.SmallMid && r.Gain is not null).Select(r => r.Gain!.Value)),
            Mean(rows.Where(r => r.Group == PaperGroup.Large && r.Gain is not null).Select(r => r.Gain!.Value)),
            Mean(distinct.Values.Where(r => r.Gain is not null).Select(r => r.Gain!.Value)),
            max?.Gain, max?.Cell, distinct.Count,
            distinct.Values.Count(r => r.Gain is not null),
            distinct.Values.Count(r => r.Throughput is null),
            distinct.Values.Count(r => r.FtThroughput is null),
            wallSeconds, threads);
    }

    private static string CellKey(PaperScenario s, string task) => $"{s.Name} {task}";

    private static void Check(PaperOptions o)
    {
        if (o.StaticBatchStep < 1)
            throw new SpecException($"paper options: the FT batch step must be at least 1, got {o.StaticBatchStep}");
        if (o.StaticBatchCap < 1)
            throw new SpecException($"paper options: the FT batch cap must be at least 1, got {o.StaticBatchCap}");
        if (o.MaxBatch < 1)
            throw new SpecException($"paper options: the largest B_E must be at least 1, got {o.MaxBatch}");
        if (o.MaxParallelism == 0 || o.MaxParallelism < -1)
            throw new SpecException($"paper options: parallelism must be -1 (automatic) or at least 1, got {o.MaxParallelism}");
        foreach (double f in o.BoundFractions ?? [])
            if (!(f > 0 && f <= 1))
                throw new SpecException($"paper options: a bound fraction must be in (0, 1], got {f.ToString(CultureInfo.InvariantCulture)}");
    }
}
