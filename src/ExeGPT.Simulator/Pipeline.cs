using ExeGPT.Core.Clusters;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Simulator;

/// <summary>One pipeline stage: a single device or a tensor-parallel group of consecutive devices in
/// one node, holding a contiguous slice of the layers.</summary>
/// <param name="FirstDevice">Its first device (node-major numbering).</param>
/// <param name="Tp">Tensor-parallel degree (devices in the stage).</param>
/// <param name="PrefillLayers">Layers it runs in the prefill/encode pass.</param>
/// <param name="DecodeLayers">Decoder layers it runs in decode steps.</param>
/// <param name="LinkToNext">How activations reach the next stage (the last stage: back to the first).</param>
internal readonly record struct Stage(int FirstDevice, int Tp, int PrefillLayers, int DecodeLayers, LinkClass LinkToNext);

/// <summary>Devices of one pipeline (a whole RRA model, or WAA's encoder or decoder group) cut into stages.</summary>
internal sealed class Pipeline
{
    public Pipeline(Stage[] stages)
    {
        Stages = stages;
        // Stages that cost the same (same degree, layers and link; the last stage is always its own) are
        // timed once: a step's cost is then O(distinct stages), not O(depth).
        var kinds = new List<(Stage Stage, int Count, bool Last)>();
        KindOf = new int[stages.Length];
        for (int i = 0; i < stages.Length; i++)
        {
            bool last = i == stages.Length - 1;
            int found = kinds.FindIndex(k => !last && !k.Last && k.Stage.Tp == stages[i].Tp
                && k.Stage.PrefillLayers == stages[i].PrefillLayers && k.Stage.DecodeLayers == stages[i].DecodeLayers
                && k.Stage.LinkToNext == stages[i].LinkToNext);
            if (found >= 0) kinds[found] = (kinds[found].Stage, kinds[found].Count + 1, false);
            else { found = kinds.Count; kinds.Add((stages[i], 1, last)); }
            KindOf[i] = found;
        }
        Kinds = [.. kinds];
    }

    public Stage[] Stages { get; }

    /// <summary>Distinct stage kinds with how many stages share each, and whether it is the last stage.</summary>
    public (Stage Stage, int Count, bool Last)[] Kinds { get; }

    /// <summary>Index into <see cref="Kinds"/> of each stage.</summary>
    public int[] KindOf { get; }

    /// <summary>Sum and max of the per-stage times <paramref name="time"/>(stage, isLast) over the pipeline;
    /// adds weight × time to <paramref name="busyPerKind"/> when given.</summary>
    public (double Sum, double Max) Times(Func<Stage, bool, double> time, double[]? busyPerKind = null, double weight = 1)
    {
        double sum = 0, max = 0;
        for (int k = 0; k < Kinds.Length; k++)
        {
            var (stage, count, last) = Kinds[k];
            double t = time(stage, last);
            if (busyPerKind is not null) busyPerKind[k] += weight * t;
            sum += count * t;
            max = Math.Max(max, t);
        }
        return (sum, max);
    }

    /// <summary>The number of equal micro-batches (1..<paramref name="limit"/>) that minimises a decode
    /// iteration's period max(Σ t_s, m·max t_s), where <paramref name="times"/>(m) gives the stage sum and
    /// max for micro-batches of 1/m of the batch. Σ falls and m·max rises with m, so the optimum sits where
    /// they cross (binary search). Both throughput and latency improve with a shorter period, so this is
    /// not a trade-off: the simulator picks it rather than the search.</summary>
    public static (double Period, int MicroBatches, double Drain) BestPeriod(int limit, Func<int, (double Sum, double Max)> times)
    {
        limit = Math.Max(1, limit);
        (double sum, double max) = times(limit);
        if (limit * max <= sum)
            return (sum, limit, Drain(limit, sum, max));
        int lo = 1, hi = limit;   // invariant: m·max(m) > Σ(m) at hi
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            var t = times(mid);
            if (mid * t.Max > t.Sum) hi = mid; else lo = mid + 1;
        }
        var a = times(lo);
        (double Period, int, double) best = (Math.Max(a.Sum, lo * a.Max), lo, Drain(lo, a.Sum, a.Max));
        if (lo > 1)
        {
            var b = times(lo - 1);
            double period = Math.Max(b.Sum, (lo - 1) * b.Max);
            if (period < best.Period) best = (period, lo - 1, Drain(lo - 1, b.Sum, b.Max));
        }
        return best;
    }

    /// <summary>How long after I periods the last of <paramref name="microBatches"/> micro-batches finishes its
    /// I-th iteration: the makespan of I iterations is I·max(Σ, m·max) + min((m−1)·max, Σ − max) (checked
    /// against <see cref="PipelineTimeline"/> in the tests).</summary>
    public static double Drain(int microBatches, double sum, double max) => Math.Max(0, Math.Min((microBatches - 1) * max, sum - max));

    /// <summary>Number of stages.</summary>
    public int Depth => Stages.Length;

    /// <summary>"tp2 x1 + 3" style summary: TP groups then single devices.</summary>
    public string Describe()
    {
        int groups = 0, singles = 0, tp = 1;
        foreach (Stage s in Stages)
        {
            if (s.Tp > 1) { groups++; tp = s.Tp; }
            else singles++;
        }
        string text = groups > 0 ? $"tp{tp}x{groups}" : "";
        if (singles > 0) text += (text.Length > 0 ? "+" : "") + singles;
        return $"{Depth} stage{(Depth == 1 ? "" : "s")} ({text})";
    }

    /// <summary>Cuts devices [first, first + count) into <paramref name="groups"/> TP groups of
    /// <paramref name="tp"/> devices (never across a node) and single-device stages; returns null with a
    /// reason when the groups do not fit.</summary>
    public static (int First, int Tp)[]? Groups(ClusterSpec cluster, int first, int count, int tp, int groups, out string? reason)
    {
        var stages = new List<(int, int)>();
        int end = first + count, left = groups;
        for (int pos = first; pos < end;)
        {
            if (left > 0 && tp > 1 && pos + tp <= end && cluster.NodeOf(pos) == cluster.NodeOf(pos + tp - 1))
            {
                stages.Add((pos, tp));
                pos += tp;
                left--;
            }
            else
            {
                stages.Add((pos, 1));
                pos++;
            }
        }
        if (left > 0)
        {
            reason = $"{groups} tensor-parallel groups of {tp} do not fit in devices {first}..{end - 1} without crossing a node";
            return null;
        }
        reason = null;
        return [.. stages];
    }

    /// <summary>Splits <paramref name="layers"/> over stages in proportion to <paramref name="speed"/>
    /// (largest remainder), at least one each; null when there are more stages than layers.</summary>
    public static int[]? SplitLayers(int layers, ReadOnlySpan<double> speed)
    {
        int n = speed.Length;
        if (layers < n)
            return null;
        double total = 0;
        foreach (double s in speed) total += s;
        int[] share = new int[n];
        double[] remainder = new double[n];
        int given = 0;
        for (int i = 0; i < n; i++)
        {
            double exact = layers * speed[i] / total;
            share[i] = Math.Max(1, (int)Math.Floor(exact));
            remainder[i] = exact - share[i];
            given += share[i];
        }
        while (given < layers)
        {
            int best = 0;
            for (int i = 1; i < n; i++) if (remainder[i] > remainder[best]) best = i;
            share[best]++;
            remainder[best] -= 1;
            given++;
        }
        while (given > layers)
        {
            int best = -1;
            for (int i = 0; i < n; i++)
                if (share[i] > 1 && (best < 0 || remainder[i] < remainder[best])) best = i;
            share[best]--;
            remainder[best] += 1;
            given--;
        }
        return share;
    }

    /// <summary>Builds stages from device groups and per-stage layer counts; links follow device order and
    /// the last stage links back to the first (sampled tokens return to the embedding).</summary>
    public static Pipeline Build(ClusterSpec cluster, (int First, int Tp)[] groups, int[] prefillLayers, int[] decodeLayers)
    {
        var stages = new Stage[groups.Length];
        for (int i = 0; i < groups.Length; i++)
        {
            int last = groups[i].First + groups[i].Tp - 1;
            int next = groups[(i + 1) % groups.Length].First;
            LinkClass link = cluster.NodeOf(last) == cluster.NodeOf(next) ? LinkClass.IntraNode : LinkClass.InterNode;
            stages[i] = new Stage(groups[i].First, groups[i].Tp, prefillLayers[i], decodeLayers[i], link);
        }
        return new Pipeline(stages);
    }
}
