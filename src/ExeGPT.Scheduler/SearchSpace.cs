using ExeGPT.Scheduler.Search;
using ExeGPT.Simulator;

namespace ExeGPT.Scheduler;

/// <summary>The control variables of one search and how a point maps to a schedule.
///
/// Orientation (the paper's §5, made explicit): B_E grows upward and N_D is listed in decreasing order, so
/// "up" means bigger batches / encoding more often — more throughput and more latency. Two of the paper's
/// variables are handled outside branch-and-bound because our cost model shows they are not monotone
/// trade-offs: the number of TP groups (fewer TP devices lengthens the pipeline, which costs throughput
/// too whenever the batch cannot fill the extra stages — so neither direction is monotone) is enumerated
/// like the TP degree, one search per (degree, groups); the number of decoder micro-batches is chosen by
/// the simulator per iteration as the count that minimises the iteration period, which helps throughput
/// and latency alike (see <c>Pipeline.BestPeriod</c>), so it is never a trade-off to search.</summary>
public sealed class SearchSpace
{
    private SearchSpace(Policy policy, int tpDegree, IReadOnlyList<SearchVariable> variables, Func<int[], Schedule> toSchedule)
    {
        Policy = policy;
        TpDegree = tpDegree;
        Variables = variables;
        ToSchedule = toSchedule;
    }

    /// <summary>The policy searched.</summary>
    public Policy Policy { get; }

    /// <summary>The fixed TP degree of this search (the paper repeats B&amp;B per degree).</summary>
    public int TpDegree { get; }

    /// <summary>The fixed number of TP groups of this search.</summary>
    public int TpGroups { get; private init; }

    /// <summary>The variables, in the order of a point's values.</summary>
    public IReadOnlyList<SearchVariable> Variables { get; }

    /// <summary>Maps a point's values to the schedule.</summary>
    public Func<int[], Schedule> ToSchedule { get; }

    /// <summary>The point where every variable sits at its throughput-raising end.</summary>
    public int[] ThroughputCorner()
    {
        int[] values = new int[Variables.Count];
        for (int i = 0; i < values.Length; i++)
        {
            IReadOnlyList<int> v = Variables[i].Values;
            values[i] = Variables[i].ThroughputDirection > 0 ? v[^1] : v[0];
        }
        return values;
    }

    /// <summary>An upper bound on the batch (B_E; the static/continuous batch) from memory alone: every
    /// schedule needs at least that many KV-cache slots of the longest input + output beside the weights
    /// (two copies for WAA on decoder-only models), and all devices together cannot hold more. Larger batches
    /// cannot fit whatever the other variables, so the grid stops there.</summary>
    public static int MemoryBatchLimit(SimulationContext ctx, Policy policy)
    {
        Core.Models.ModelSpec model = ctx.Model;
        double total = (double)ctx.Cluster.TotalDevices * ctx.Cluster.Device.UsableMemoryBytes;
        bool twoCopies = policy is Policy.WaaC or Policy.WaaM && model.Architecture == Core.Models.ModelArchitecture.DecoderOnly;
        double weights = model.WeightBytes * (twoCopies ? 2.0 : 1.0);
        double slots = (total - weights) / ctx.KvSlotBytes;
        // WAA holds B_E·E[d] running queries plus a merging batch for every query encoded per iteration.
        if (policy is Policy.WaaC or Policy.WaaM)
            slots /= ctx.Stats.StepsMean + 1;
        // Continuous batching pages its KV cache: only live tokens, about the mean context instead of a slot.
        if (policy == Policy.Continuous)
            slots *= ctx.Stats.MaxSlotLength / Math.Max(1, ctx.Stats.DecodeContextMean);
        return (int)Math.Clamp(Math.Floor(slots), 0, int.MaxValue);
    }

    /// <summary>Batch sizes: every integer to 8, then about 4 per doubling up to <paramref name="max"/>.</summary>
    public static int[] BatchGrid(int max)
    {
        var values = new List<int>();
        for (int v = 1; v <= Math.Min(8, max); v++) values.Add(v);
        for (int step = 2; values[^1] < max; step *= 2)
            for (int k = 0; k < 4 && values[^1] < max; k++)
                values.Add(Math.Min(max, values[^1] + step));
        return [.. values];
    }

    /// <summary>N_D candidates from <paramref name="max"/> down to 1 (decreasing: "up" = encode more often).</summary>
    public static int[] DecodeIterationGrid(int max)
    {
        var values = new SortedSet<int>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        for (int v = 1; v <= Math.Min(8, max); v++) values.Add(v);
        for (double v = 8; v < max; v *= 1.25) values.Add((int)Math.Round(v));
        values.Add(Math.Max(1, max));
        return [.. values];
    }

    /// <summary>The search spaces for <paramref name="policy"/>: one per TP degree.</summary>
    public static IEnumerable<SearchSpace> For(SimulationContext ctx, Policy policy, int maxBatch)
    {
        int devices = ctx.Cluster.TotalDevices;
        int limit = Math.Min(maxBatch, MemoryBatchLimit(ctx, policy));
        if (limit < 1)
            yield break;   // not even one query's KV cache fits beside the weights
        int[] batches = BatchGrid(limit);
        switch (policy)
        {
            case Policy.Static:
            case Policy.Continuous:
                yield return new SearchSpace(policy, XSimulator.BaselineTensorParallel(ctx),
                    [new SearchVariable("B", batches, 1, 1, 1)], v => new Schedule(policy, v[0]));
                yield break;
        }
        foreach (int tp in TpDegrees(ctx))
        {
            // TP groups fit node by node; WAA places them among the decoders (at least one encoder).
            int perNode = ctx.Cluster.DevicesPerNode / tp;
            int maxGroups = tp == 1 ? 0 : Math.Min(perNode * ctx.Cluster.Nodes, (devices - (policy == Policy.Rra ? 0 : 1)) / tp);
            int[] groupCounts = tp == 1 ? [0] : GroupGrid(maxGroups);
            foreach (int groups in groupCounts)
            {
                int t = tp, k = groups;
                var b = new SearchVariable("B_E", batches, 1, 1, 1);
                if (policy == Policy.Rra)
                {
                    var nd = new SearchVariable("N_D", DecodeIterationGrid(Math.Max(1, ctx.Stats.StepsMax)), 1, 1, 1);
                    yield return new SearchSpace(policy, tp, [b, nd],
                        v => new Schedule(policy, v[0], DecodeIterations: v[1], TpDegree: t, TpGroups: k)) { TpGroups = k };
                }
                else
                    yield return new SearchSpace(policy, tp, [b],
                        v => new Schedule(policy, v[0], TpDegree: t, TpGroups: k)) { TpGroups = k };
            }
        }
    }

    /// <summary>TP-group counts 1..<paramref name="max"/>: all of them up to 8, then about two per doubling
    /// (the last always included), so a 48-device cluster does not multiply the searches by 24.</summary>
    public static int[] GroupGrid(int max)
    {
        var values = new SortedSet<int>();
        for (int k = 1; k <= Math.Min(8, max); k++) values.Add(k);
        for (double k = 12; k < max; k *= 4.0 / 3) values.Add((int)Math.Round(k));
        values.Add(max);
        return [.. values];
    }

    /// <summary>1 and every degree > 1 that divides the heads and fits in a node.</summary>
    public static IEnumerable<int> TpDegrees(SimulationContext ctx)
    {
        for (int d = 1; d <= ctx.Cluster.DevicesPerNode && d <= ctx.Cluster.TotalDevices; d++)
            if (ctx.Model.SupportsTensorParallel(d) && ctx.Profile.TensorParallelDegrees.Contains(d))
                yield return d;
    }
}
