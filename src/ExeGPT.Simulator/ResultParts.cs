using ExeGPT.Core.Workloads;

namespace ExeGPT.Simulator;

/// <summary>Pieces every family's result needs.</summary>
internal static class ResultParts
{
    /// <summary>Per-query statistics of the expected-value model: latency is a function of the decode
    /// steps only, weighted by the output-length distribution.</summary>
    public static (LatencyStats E2E, LatencyStats Ttft, LatencyStats Tpot) OverOutputs(
        SimulationContext ctx, Func<int, double> e2eOfSteps, Func<int, double> ttftOfSteps)
    {
        LengthDistribution output = ctx.Workload.Output;
        int n = output.Max - output.Min + 1;
        double[] e2e = new double[n], ttft = new double[n], weight = new double[n];
        var tpot = new List<double>(n);
        var tpotWeight = new List<double>(n);
        for (int i = 0; i < n; i++)
        {
            int s = output.Min + i, d = ctx.Stats.DecodeSteps(s);
            weight[i] = output.Probability(s);
            e2e[i] = e2eOfSteps(d);
            ttft[i] = ttftOfSteps(d);
            if (s > 1)
            {
                tpot.Add((e2e[i] - ttft[i]) / (s - 1));
                tpotWeight.Add(weight[i]);
            }
        }
        return (LatencyStats.FromWeighted(e2e, weight), LatencyStats.FromWeighted(ttft, weight),
            LatencyStats.FromWeighted(tpot.ToArray(), tpotWeight.ToArray()));
    }

    /// <summary>Null when every device fits, else a reason naming the fullest device.</summary>
    public static string? MemoryProblem(IReadOnlyList<DeviceReport> devices)
    {
        DeviceReport? worst = null;
        foreach (DeviceReport d in devices)
            if (d.TotalBytes > d.CapacityBytes && (worst is null || d.MemoryRatio > worst.MemoryRatio))
                worst = d;
        if (worst is null)
            return null;
        return $"out of memory on device {worst.Device} ({worst.Role} stage {worst.Stage}): needs " +
               $"{Gib(worst.TotalBytes)} (weights {Gib(worst.WeightBytes)}, activations {Gib(worst.ActivationBytes)}, " +
               $"KV cache {Gib(worst.KvCacheBytes)}) of {Gib(worst.CapacityBytes)} usable";
    }

    public static string Gib(long bytes) => $"{bytes / (double)(1L << 30):F1} GiB";

    /// <summary>One report per device of every stage of <paramref name="pipeline"/>.</summary>
    public static void AddDevices(List<DeviceReport> into, SimulationContext ctx, Pipeline pipeline, string role,
        Func<int, double> busy, Func<int, long> activations, Func<int, long> kv)
    {
        long capacity = ctx.Cluster.Device.UsableMemoryBytes;
        for (int i = 0; i < pipeline.Depth; i++)
        {
            Stage stage = pipeline.Stages[i];
            long weights = MemoryModel.Weights(ctx.Model, stage, i == 0, i == pipeline.Depth - 1);
            long act = activations(i), cache = kv(i);
            double fraction = Math.Clamp(busy(i), 0, 1);
            int layers = ctx.Model.Architecture == Core.Models.ModelArchitecture.EncoderDecoder
                ? stage.PrefillLayers + stage.DecodeLayers
                : Math.Max(stage.PrefillLayers, stage.DecodeLayers);
            for (int r = 0; r < stage.Tp; r++)
                into.Add(new DeviceReport(stage.FirstDevice + r, role, i, stage.Tp, layers, fraction, weights, act, cache, capacity));
        }
    }
}
