using ExeGPT.Core.Profiles;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>The layer tables of one TP degree: every rank of the host prefills or decodes the same grid point at
/// once with per-part step timing on; per repeat the slowest rank's attention and rest are kept (a TP group waits
/// for its slowest rank at every all-reduce), then the median over repeats, with the spread (max − min). The
/// all-reduces are left out: the planner adds them from the all_reduce table.</summary>
internal static class LayerTables
{
    /// <param name="ranks">The groups of this TP degree.</param>
    /// <param name="grid">Points to measure.</param>
    /// <param name="costs">The roofline's FLOPs and bytes per point, when known.</param>
    /// <param name="progress">Advanced per point.</param>
    /// <param name="hidden">The model's hidden size (elements of an all-reduced activation row).</param>
    /// <param name="elementBytes">Bytes per activation element at the backend's storage dtype.</param>
    /// <param name="inSituAllReduce">Receives, for d &gt; 1, what one all-reduce cost inside the steps (bytes → seconds
    /// per call). Host collectives: the prefill step's layer time beyond its slowest rank's compute, over the two
    /// all-reduces of a layer. It includes what a separate benchmark of the collective misses: ranks drifting apart
    /// during long GEMMs. Decode steps are too short for this difference to isolate the collective (fixed per-step
    /// costs dominate it: measured 1.2 ms per call at 8 rows against 0.02 ms benchmarked and ~0.1 ms in the runner), so
    /// they use the benchmark. Device collectives (<paramref name="deviceCollectives"/>, NCCL): the backend times them
    /// itself (<c>all_reduce_seconds</c>), in prefill and decode steps alike; no separate benchmark exists for them,
    /// since their data is device memory.</param>
    /// <param name="deviceCollectives">The groups all-reduce on devices (NCCL) rather than through host memory.</param>
    public static TensorParallelTables Measure(RankGroups ranks, ProfileGrid grid, AnalyticCostModel? costs, ProgressCounter progress,
        SortedDictionary<int, List<double>> inSituAllReduce, int hidden, int elementBytes, bool deviceCollectives)
    {
        int d = ranks.Degree;
        StepRunner[] runners = ranks.Runners;
        for (int w = 0; w < grid.Warmup; w++)
            ranks.Crew.Run(r => runners[r].Prefill(grid.PrefillRows[0], grid.Lengths[0]));

        IReadOnlyList<int> prefillRows = grid.PrefillRows, decodeRows = grid.Batches, lengths = grid.Lengths;
        int cols = lengths.Count;
        var prefillAttention = new Column(prefillRows.Count * cols);
        var decodeAttention = new Column(decodeRows.Count * cols);
        var prefillRest = new SortedDictionary<int, List<double>>();
        var decodeRest = new SortedDictionary<int, List<double>>();
        var head = new SortedDictionary<int, List<double>>();
        var perRank = new exg_step_timings[runners.Length];
        var perRankSteps = new exg_step_timings[runners.Length][];
        var attention = new double[grid.Repeats];
        var rest = new double[grid.Repeats];
        for (int i = 0; i < prefillRows.Count; i++)
        {
            int b = prefillRows[i];
            for (int j = 0; j < cols; j++)
            {
                int s = lengths[j];
                for (int rep = 0; rep < grid.Repeats; rep++)
                {
                    ranks.Crew.Run(r => perRank[r] = runners[r].Prefill(b, s));
                    (attention[rep], rest[rep]) = Slowest(perRank);
                    AddSync(inSituAllReduce, d, (long)b * s * hidden * elementBytes, perRank, deviceCollectives);
                }
                prefillAttention.Set(i * cols + j, attention, costs?.PrefillAttention(d, b, s));
                Samples.Add(prefillRest, b * s, Samples.Median(rest));
                progress.Report($"prefill tp={d} b={b} s={s}");
            }
        }
        for (int i = 0; i < decodeRows.Count; i++)
        {
            int b = decodeRows[i];
            for (int j = 0; j < cols; j++)
            {
                int s = lengths[j];
                // A decode step per repeat (contexts s, s + 1, ...); the batch's sequences grow from length to length.
                ranks.Crew.Run(r => perRankSteps[r] = runners[r].Decode(b, s, grid.Repeats));
                for (int rep = 0; rep < grid.Repeats; rep++)
                {
                    for (int r = 0; r < runners.Length; r++)
                        perRank[r] = perRankSteps[r][rep];
                    (attention[rep], rest[rep]) = Slowest(perRank);
                    if (deviceCollectives)
                        AddSync(inSituAllReduce, d, (long)b * hidden * elementBytes, perRank, deviceCollectives);
                }
                decodeAttention.Set(i * cols + j, attention, costs?.DecodeAttention(d, b, s));
                Samples.Add(decodeRest, b, Samples.Median(rest));
                for (int rep = 0; rep < grid.Repeats; rep++)
                    Samples.Add(head, b, perRankSteps.Max(steps => steps[rep].outside_layers_seconds));
                progress.Report($"decode tp={d} b={b} ctx={s}");
            }
        }

        ranks.Crew.Run(r => runners[r].EndDecode());

        double[] lengthPoints = [.. lengths.Select(v => (double)v)];
        return new TensorParallelTables(d,
            prefillAttention.Table2D(TensorParallelTables.EncoderAttentionName, d,
                new ProfileAxis("batch", prefillRows.Select(v => (double)v)), new ProfileAxis("seq_len", lengthPoints)),
            Rest(TensorParallelTables.EncoderRestName, d, prefillRest, costs is null ? null : t => costs.PrefillRest(d, t)),
            decodeAttention.Table2D(TensorParallelTables.DecoderAttentionName, d,
                new ProfileAxis("batch", decodeRows.Select(v => (double)v)), new ProfileAxis("context", lengthPoints)),
            null,
            Rest(TensorParallelTables.DecoderRestName, d, decodeRest, costs is null ? null : t => costs.DecodeRest(d, t)),
            Head(d, head));
    }

    /// <summary>Adds one step's in-situ cost per all-reduce (see <see cref="Measure"/>); the ranks of one TP group are
    /// consecutive in <paramref name="ranks"/>, and each group gives a sample.</summary>
    private static void AddSync(SortedDictionary<int, List<double>> into, int d, long bytes, exg_step_timings[] ranks, bool measured)
    {
        if (d == 1)
            return;
        for (int g = 0; g + d <= ranks.Length; g += d)
        {
            double layerTime = 0, compute = 0, allReduce = 0;
            for (int r = g; r < g + d; r++)
            {
                exg_step_timings t = ranks[r];
                layerTime = Math.Max(layerTime, t.total_seconds - t.outside_layers_seconds);
                compute = Math.Max(compute, t.attention_seconds + t.layer_rest_seconds);
                allReduce = Math.Max(allReduce, t.all_reduce_seconds);
            }
            int layers = Math.Max(1, ranks[g].layers);
            double perLayer = measured ? allReduce : Math.Max(0, layerTime - compute);
            Samples.Add(into, (int)Math.Min(bytes, int.MaxValue), perLayer / (2 * layers));
        }
    }

    /// <summary>Per-layer attention and rest of the slowest rank, part by part.</summary>
    private static (double Attention, double Others) Slowest(exg_step_timings[] ranks)
    {
        double attention = 0, rest = 0;
        foreach (exg_step_timings t in ranks)
        {
            attention = Math.Max(attention, t.attention_seconds / t.layers);
            rest = Math.Max(rest, t.layer_rest_seconds / t.layers);
        }
        return (attention, rest);
    }

    /// <summary>The rest over tokens: the median of every grid point that processed that many tokens (b × s can
    /// repeat), with the roofline's FLOPs and bytes at that token count.</summary>
    private static ProfileTable1D Rest(string name, int d, SortedDictionary<int, List<double>> samples, Func<double, OpCost>? cost)
    {
        double[] tokens = [.. samples.Keys.Select(k => (double)k)];
        double[] times = [.. samples.Values.Select(v => Samples.Median(v))];
        OpCost[]? costs = cost is null ? null : [.. tokens.Select(cost)];
        return new ProfileTable1D(name, d, new ProfileAxis("tokens", tokens), times, spread: null,
            costs?.Select(c => c.Flops), costs?.Select(c => c.MemoryBytes));
    }

    /// <summary>The last stage's work outside the layers per decode step (LM head, logits, sampling) over rows: the
    /// median over every context and repeat at that batch.</summary>
    private static ProfileTable1D Head(int d, SortedDictionary<int, List<double>> samples) =>
        new(TensorParallelTables.HeadName, d, new ProfileAxis("rows", samples.Keys.Select(k => (double)k)),
            [.. samples.Values.Select(v => Samples.Median(v))]);

    /// <summary>Median, spread and the roofline's FLOPs and bytes of every point of a 2-D table.</summary>
    private sealed class Column(int points)
    {
        private readonly double[] _time = new double[points], _spread = new double[points];
        private readonly double[] _flops = new double[points], _bytes = new double[points];
        private bool _costed = true;

        public void Set(int at, double[] repeats, OpCost? cost)
        {
            (_time[at], _spread[at]) = Samples.MedianAndSpread(repeats);
            if (cost is { } c)
                (_flops[at], _bytes[at]) = (c.Flops, c.MemoryBytes);
            else
                _costed = false;
        }

        public ProfileTable2D Table2D(string name, int d, ProfileAxis rows, ProfileAxis columns) =>
            new(name, d, rows, columns, _time, _spread, _costed ? _flops : null, _costed ? _bytes : null);
    }
}
