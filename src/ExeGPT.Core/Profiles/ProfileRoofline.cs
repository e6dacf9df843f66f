using ExeGPT.Core.Clusters;

namespace ExeGPT.Core.Profiles;

/// <summary>The optional "roofline" section of a measured profile: for every layer table that carries
/// <c>flops</c> and <c>memory_bytes</c>, the achieved TFLOP/s and GB/s of each point and its fraction of the
/// device's roofline, max(FLOPs / peak, bytes / bandwidth) / time — the share of what the device could do at that
/// arithmetic intensity. What a kernel developer compares a plug-in against; the planner ignores it.</summary>
public sealed class ProfileRoofline
{
    /// <summary>Validates the reference device and the ops.</summary>
    /// <param name="device">Name of the device the roofline is drawn for.</param>
    /// <param name="peakFlops">Its peak FLOP/s (positive).</param>
    /// <param name="memoryBandwidth">Its memory bandwidth in bytes/s (positive).</param>
    /// <param name="ops">One entry per layer table (tp, name), in any order.</param>
    /// <exception cref="SpecException">A bad peak or bandwidth, or a table listed twice.</exception>
    public ProfileRoofline(string device, double peakFlops, double memoryBandwidth, IEnumerable<RooflineOp> ops)
    {
        ArgumentNullException.ThrowIfNull(ops);
        Device = string.IsNullOrWhiteSpace(device) ? throw new SpecException("profile roofline: device name is empty") : device;
        if (!double.IsFinite(peakFlops) || peakFlops <= 0 || !double.IsFinite(memoryBandwidth) || memoryBandwidth <= 0)
            throw new SpecException(
                $"profile roofline: peak FLOP/s and memory bandwidth must be positive, got {ProfileAxis.Format(peakFlops)} and {ProfileAxis.Format(memoryBandwidth)}");
        PeakFlops = peakFlops;
        MemoryBandwidth = memoryBandwidth;
        Ops = [.. ops.OrderBy(o => o.TensorParallel).ThenBy(o => o.Table, StringComparer.Ordinal)];
        for (int i = 1; i < Ops.Count; i++)
            if (Ops[i].TensorParallel == Ops[i - 1].TensorParallel && Ops[i].Table == Ops[i - 1].Table)
                throw new SpecException($"profile roofline: table {Ops[i].Table} (tp={Ops[i].TensorParallel}) is listed twice");
    }

    /// <summary>The reference device.</summary>
    public string Device { get; }

    /// <summary>Its peak FLOP/s.</summary>
    public double PeakFlops { get; }

    /// <summary>Its memory bandwidth, bytes/s.</summary>
    public double MemoryBandwidth { get; }

    /// <summary>Per layer table, ascending by TP degree then name.</summary>
    public IReadOnlyList<RooflineOp> Ops { get; }

    /// <summary>The roofline of every layer table in <paramref name="layers"/> that has FLOPs and bytes per point,
    /// against <paramref name="device"/>; null when none has.</summary>
    public static ProfileRoofline? Compute(IEnumerable<TensorParallelTables> layers, DeviceSpec device)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(device);
        var ops = new List<RooflineOp>();
        foreach (TensorParallelTables t in layers)
            foreach (string name in TableNames)
                if (Columns(t, name) is var (times, flops, bytes) && flops is not null && bytes is not null)
                    ops.Add(RooflineOp.Compute(t.TensorParallel, name, times, flops, bytes, device.PeakFlops, device.MemoryBandwidth));
        return ops.Count == 0 ? null : new ProfileRoofline(device.Name, device.PeakFlops, device.MemoryBandwidth, ops);
    }

    /// <summary>The layer tables a roofline entry may name.</summary>
    internal static readonly string[] TableNames =
    [
        TensorParallelTables.EncoderAttentionName, TensorParallelTables.EncoderRestName,
        TensorParallelTables.DecoderAttentionName, TensorParallelTables.CrossAttentionName, TensorParallelTables.DecoderRestName,
    ];

    /// <summary>Points and, for 2-D tables, columns per row of table <paramref name="name"/> (null: no such table).</summary>
    internal static (int Points, int Columns)? Shape(TensorParallelTables t, string name) => name switch
    {
        TensorParallelTables.EncoderAttentionName => (t.EncoderAttention.Times.Count, t.EncoderAttention.Columns.Count),
        TensorParallelTables.DecoderAttentionName => (t.DecoderAttention.Times.Count, t.DecoderAttention.Columns.Count),
        TensorParallelTables.CrossAttentionName when t.CrossAttention is { } c => (c.Times.Count, c.Columns.Count),
        TensorParallelTables.EncoderRestName => (t.EncoderRest.Times.Count, 0),
        TensorParallelTables.DecoderRestName => (t.DecoderRest.Times.Count, 0),
        _ => null,
    };

    /// <summary>Checks every op against the layer tables it names.</summary>
    internal void Validate(IReadOnlyList<TensorParallelTables> layers)
    {
        foreach (RooflineOp op in Ops)
        {
            TensorParallelTables? t = layers.FirstOrDefault(l => l.TensorParallel == op.TensorParallel);
            (int Points, int Columns)? shape = t is null ? null : Shape(t, op.Table);
            if (shape is null)
                throw new SpecException($"profile roofline: names table {op.Table} (tp={op.TensorParallel}), which the profile does not have");
            if (op.Fraction.Count != shape.Value.Points)
                throw new SpecException(
                    $"profile roofline: table {op.Table} (tp={op.TensorParallel}) has {op.Fraction.Count} points but the layer table has {shape.Value.Points}");
        }
    }

    private static (IReadOnlyList<double> Times, IReadOnlyList<double>? Flops, IReadOnlyList<double>? Bytes)? Columns(
        TensorParallelTables t, string name) => name switch
    {
        TensorParallelTables.EncoderAttentionName => (t.EncoderAttention.Times, t.EncoderAttention.Flops, t.EncoderAttention.MemoryBytes),
        TensorParallelTables.DecoderAttentionName => (t.DecoderAttention.Times, t.DecoderAttention.Flops, t.DecoderAttention.MemoryBytes),
        TensorParallelTables.CrossAttentionName when t.CrossAttention is { } c => (c.Times, c.Flops, c.MemoryBytes),
        TensorParallelTables.EncoderRestName => (t.EncoderRest.Times, t.EncoderRest.Flops, t.EncoderRest.MemoryBytes),
        TensorParallelTables.DecoderRestName => (t.DecoderRest.Times, t.DecoderRest.Flops, t.DecoderRest.MemoryBytes),
        _ => null,
    };
}

/// <summary>One layer table against the roofline; per-point columns follow the table's <c>time_s</c> order
/// (row-major for 2-D tables).</summary>
public sealed class RooflineOp
{
    /// <summary>Copies and validates the columns (same length, finite, non-negative).</summary>
    /// <param name="tensorParallel">TP degree of the table.</param>
    /// <param name="table">Table name, e.g. "decoder.attention".</param>
    /// <param name="achievedTflops">FLOPs / time per point, in TFLOP/s.</param>
    /// <param name="achievedGbps">Bytes / time per point, in GB/s (10⁹ bytes).</param>
    /// <param name="fraction">Roofline time / measured time per point.</param>
    /// <param name="bestFraction">The largest fraction.</param>
    /// <param name="medianFraction">The median fraction.</param>
    /// <exception cref="SpecException">Naming the bad column or value.</exception>
    public RooflineOp(int tensorParallel, string table, IEnumerable<double> achievedTflops, IEnumerable<double> achievedGbps,
        IEnumerable<double> fraction, double bestFraction, double medianFraction)
    {
        if (tensorParallel <= 0)
            throw new SpecException($"profile roofline: tensor-parallel degree must be positive, got {tensorParallel}");
        if (Array.IndexOf(ProfileRoofline.TableNames, table) < 0)
            throw new SpecException($"profile roofline: '{table}' is not a layer table ({string.Join(", ", ProfileRoofline.TableNames)})");
        TensorParallel = tensorParallel;
        Table = table;
        string label = $"profile roofline {table} (tp={tensorParallel})";
        double[] fractions = [.. fraction];
        Fraction = ProfileValues.Copy(label, "fraction", fractions, fractions.Length, required: true)!;
        AchievedTflops = ProfileValues.Copy(label, "achieved_tflops", achievedTflops, Fraction.Count, required: true)!;
        AchievedGbps = ProfileValues.Copy(label, "achieved_gbps", achievedGbps, Fraction.Count, required: true)!;
        if (Fraction.Count == 0)
            throw new SpecException($"{label}: has no points");
        BestFraction = ProfileValues.Copy(label, "best_fraction", [bestFraction], 1, required: true)![0];
        MedianFraction = ProfileValues.Copy(label, "median_fraction", [medianFraction], 1, required: true)![0];
    }

    /// <summary>The roofline of one table from its times, FLOPs and bytes.</summary>
    public static RooflineOp Compute(int tensorParallel, string table, IReadOnlyList<double> times, IReadOnlyList<double> flops,
        IReadOnlyList<double> bytes, double peakFlops, double memoryBandwidth)
    {
        int n = times.Count;
        var tflops = new double[n];
        var gbps = new double[n];
        var fraction = new double[n];
        for (int i = 0; i < n; i++)
        {
            double t = times[i];
            if (t <= 0)
                continue; // an unmeasurably short point says nothing about speed
            tflops[i] = flops[i] / t / 1e12;
            gbps[i] = bytes[i] / t / 1e9;
            fraction[i] = Math.Max(flops[i] / peakFlops, bytes[i] / memoryBandwidth) / t;
        }
        double[] sorted = [.. fraction.Order()];
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return new RooflineOp(tensorParallel, table, tflops, gbps, fraction, sorted[^1], median);
    }

    /// <summary>TP degree of the table.</summary>
    public int TensorParallel { get; }

    /// <summary>Table name.</summary>
    public string Table { get; }

    /// <summary>TFLOP/s per point.</summary>
    public IReadOnlyList<double> AchievedTflops { get; }

    /// <summary>GB/s per point.</summary>
    public IReadOnlyList<double> AchievedGbps { get; }

    /// <summary>Fraction of the roofline per point.</summary>
    public IReadOnlyList<double> Fraction { get; }

    /// <summary>The largest fraction.</summary>
    public double BestFraction { get; }

    /// <summary>The median fraction.</summary>
    public double MedianFraction { get; }
}
