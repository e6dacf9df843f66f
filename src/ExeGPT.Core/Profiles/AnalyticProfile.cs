using System.Globalization;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;

namespace ExeGPT.Core.Profiles;

/// <summary>Builds a profile from a hardware spec instead of measurements, so a cluster can be planned for
/// before (or without) running on it. The tables sample <see cref="AnalyticCostModel"/> on grids fine enough
/// that interpolating them stays within 1% of the direct formulas.</summary>
public static class AnalyticProfile
{
    /// <summary>Backend name written into analytic profiles.</summary>
    public const string Backend = "roofline";

    /// <summary>Samples every table for every TP degree d ≤ devices per node that divides the heads and KV heads.</summary>
    /// <exception cref="SpecException">The model, cluster or options are invalid.</exception>
    public static ProfileTables Build(ModelSpec model, ClusterSpec cluster, AnalyticOptions? options = null)
    {
        var costs = new AnalyticCostModel(model, cluster, options);
        AnalyticOptions o = costs.Options;
        double maxLength = o.MaxLength ?? model.MaxPositions;
        var batch = new ProfileAxis("batch", Geometric(1, o.MaxBatch, o.BatchGridRatio));
        double[] lengths = Geometric(1, maxLength, o.LengthGridRatio);
        var tokens = new ProfileAxis("tokens", Geometric(1, o.MaxTokens ?? o.MaxBatch * maxLength, o.LengthGridRatio));
        var bytes = new ProfileAxis("bytes", Geometric(1, o.MaxBytes, o.BytesGridRatio));
        bool encoderDecoder = model.Architecture == ModelArchitecture.EncoderDecoder;

        var layers = new List<TensorParallelTables>();
        var allReduce = new List<ProfileTable1D>();
        foreach (int tp in costs.TensorParallelDegrees)
        {
            layers.Add(new TensorParallelTables(tp,
                Sample2D(TensorParallelTables.EncoderAttentionName, tp, batch, new ProfileAxis("seq_len", lengths), costs.PrefillAttention),
                Sample1D(TensorParallelTables.EncoderRestName, tp, tokens, x => costs.PrefillRest(tp, x)),
                Sample2D(TensorParallelTables.DecoderAttentionName, tp, batch, new ProfileAxis("context", lengths), costs.DecodeAttention),
                encoderDecoder
                    ? Sample2D(TensorParallelTables.CrossAttentionName, tp, batch, new ProfileAxis("encoder_len", lengths), costs.CrossAttention)
                    : null,
                Sample1D(TensorParallelTables.DecoderRestName, tp, tokens, x => costs.DecodeRest(tp, x))));
            if (tp > 1)
                allReduce.Add(new ProfileTable1D(ProfileTables.AllReduceName, tp, bytes,
                    bytes.Points.Select(b => costs.AllReduce(tp, b))));
        }

        ProfileTable1D Send(string name, LinkClass link) =>
            new(name, null, bytes, bytes.Points.Select(b => costs.Send(link, b)));

        var metadata = new ProfileMetadata(ProfileKind.Analytic, ModelFingerprint.Of(model), cluster.Device.Name, Backend,
            $"ExeGPT.Core {typeof(AnalyticProfile).Assembly.GetName().Version}", o.CreatedUtc ?? DateTime.UtcNow, Notes(cluster, o));
        return new ProfileTables(metadata, layers, allReduce,
            Send(ProfileTables.SendIntraNodeName, LinkClass.IntraNode),
            Send(ProfileTables.SendInterNodeName, LinkClass.InterNode),
            Send(ProfileTables.SendHostStagedName, LinkClass.HostStaged));
    }

    /// <summary>Points from <paramref name="first"/> to <paramref name="last"/> (both included) with a constant
    /// ratio no larger than <paramref name="maxRatio"/>.</summary>
    internal static double[] Geometric(double first, double last, double maxRatio)
    {
        if (last <= first)
            return [first];
        double span = Math.Log(last / first);
        int steps = (int)Math.Ceiling(span / Math.Log(maxRatio) - 1e-9);
        var points = new double[steps + 1];
        for (int i = 0; i <= steps; i++)
            points[i] = first * Math.Exp(span * i / steps);
        points[0] = first;
        points[steps] = last; // exact ends, so queries at MaxPositions etc. hit the edge
        return points;
    }

    private static ProfileTable1D Sample1D(string name, int tp, ProfileAxis axis, Func<double, OpCost> cost)
    {
        var times = new double[axis.Count];
        var flops = new double[axis.Count];
        var memory = new double[axis.Count];
        for (int i = 0; i < axis.Count; i++)
            (flops[i], memory[i], _, times[i]) = cost(axis.Points[i]);
        return new ProfileTable1D(name, tp, axis, times, null, flops, memory);
    }

    private static ProfileTable2D Sample2D(string name, int tp, ProfileAxis rows, ProfileAxis columns,
        Func<int, double, double, OpCost> cost)
    {
        int n = rows.Count * columns.Count;
        var times = new double[n];
        var flops = new double[n];
        var memory = new double[n];
        for (int r = 0, k = 0; r < rows.Count; r++)
            for (int c = 0; c < columns.Count; c++, k++)
                (flops[k], memory[k], _, times[k]) = cost(tp, rows.Points[r], columns.Points[c]);
        return new ProfileTable2D(name, tp, rows, columns, times, null, flops, memory);
    }

    private static string Notes(ClusterSpec cluster, AnalyticOptions o) => string.Create(CultureInfo.InvariantCulture,
        $"roofline on one {cluster.Device.Name} of cluster '{cluster.Name}': peak {cluster.Device.PeakFlops:G4} FLOP/s, " +
        $"memory {cluster.Device.MemoryBandwidth:G4} B/s; efficiencies GEMM {o.GemmComputeEfficiency}, attention " +
        $"{o.AttentionComputeEfficiency}, memory {o.MemoryEfficiency}; launch {o.LaunchOverheadSeconds * 1e6} us/kernel; " +
        $"links intra {cluster.IntraNode.Name} {cluster.IntraNode.Bandwidth:G4} B/s + {cluster.IntraNode.Latency * 1e6} us, " +
        $"inter {cluster.InterNode.Name} {cluster.InterNode.Bandwidth:G4} B/s + {cluster.InterNode.Latency * 1e6} us, " +
        $"host {cluster.HostLink.Name} {cluster.HostLink.Bandwidth:G4} B/s + {cluster.HostLink.Latency * 1e6} us");
}
