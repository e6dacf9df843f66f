using System.Globalization;
using System.Text;
using ExeGPT.Core.Models;
using ExeGPT.Simulator;

namespace ExeGPT.Cli;

/// <summary>Plain-text rendering shared by <c>schedule</c>, <c>simulate</c> and <c>paper</c> (invariant culture).</summary>
internal static class PlanningText
{
    private const double GiB = 1L << 30;

    /// <summary>A number with <paramref name="decimals"/> decimals; "-" for unknown, "inf" for unbounded.</summary>
    public static string Number(double? value, int decimals) => value switch
    {
        null => "-",
        double v when double.IsNaN(v) => "-",
        double v when double.IsPositiveInfinity(v) => "inf",
        double v => v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
    };

    /// <summary>A duration in s (or ms below one second).</summary>
    public static string Seconds(double value) =>
        double.IsFinite(value) && Math.Abs(value) < 1 && value != 0 ? $"{Number(value * 1e3, 1)} ms" : $"{Number(value, 3)} s";

    /// <summary>One line naming the model, cluster, workload and profile.</summary>
    public static string Inputs(Planning p)
    {
        string arch = p.Model.Architecture == ModelArchitecture.EncoderDecoder ? "encoder-decoder" : "decoder-only";
        return string.Create(CultureInfo.InvariantCulture,
            $"model {p.Model.Name} ({arch}, {p.Model.EncoderLayers + p.Model.DecoderLayers} layers) on {p.Cluster.Name} " +
            $"({p.Cluster.TotalDevices} x {p.Cluster.Device.Name} in {p.Cluster.Nodes} node(s)); task {p.Workload.Name} " +
            $"(input mean {Number(p.Workload.Input.Mean, 1)}, output mean {Number(p.Workload.Output.Mean, 1)}, " +
            $"p99 {p.Context.Stats.OutputP99}, max {p.Workload.Output.Max}); profile: {p.Profile.Description}");
    }

    /// <summary>Every control variable of <paramref name="s"/>.</summary>
    public static string Controls(Schedule s, int clusterDevices)
    {
        string devices = s.Devices == 0 ? $"all {clusterDevices}" : $"{s.Devices}";
        string tp = s.TpDegree == 1 ? "no TP" : $"TP degree {s.TpDegree} in {s.TpGroups} group(s)";
        string micro = s.MicroBatches == 0 ? "auto" : $"{s.MicroBatches}";
        return s.Policy switch
        {
            Policy.Rra => $"rra: encoder batch B_E={s.EncoderBatch}, decode iterations N_D={s.DecodeIterations}, {tp}, devices {devices}",
            Policy.WaaC or Policy.WaaM => $"{PolicyNames.Name(s.Policy)}: encoder batch B_E={s.EncoderBatch}, {tp} (decoder side), " +
                                          $"decoder micro-batches {micro}, devices {devices}",
            Policy.Static => $"static: batch {s.EncoderBatch} (FT layout), devices {devices}",
            _ => $"continuous: at most {s.EncoderBatch} sequences (FT layout), devices {devices}",
        };
    }

    /// <summary>The schedule, throughput, latency and memory of <paramref name="r"/>.</summary>
    public static void Result(StringBuilder text, SimulationResult r, Planning p)
    {
        int p99 = p.Context.Stats.OutputP99;
        text.Append("schedule     ").Append(Controls(r.Schedule, p.Cluster.TotalDevices)).Append('\n');
        text.Append("encoders     ").Append(r.Schedule.Policy is Policy.WaaC or Policy.WaaM
            ? $"{r.EncoderDevices} device(s) encode, the rest decode"
            : "every device runs both phases").Append('\n');
        text.Append("layout       ").Append(r.Layout.Length > 0 ? r.Layout : "-").Append('\n');
        if (!r.Feasible)
            text.Append("feasible     no: ").Append(r.Reason).Append('\n');
        text.Append("throughput   ").Append(Number(r.ThroughputSeqPerS, 2)).Append(" seq/s, ")
            .Append(Number(r.ThroughputTokensPerS, 1)).Append(" tokens/s (decode batch mean ")
            .Append(Number(r.DecodeBatch, 1)).Append(", peak ").Append(Number(r.PeakDecodeBatch, 0)).Append(")\n");
        text.Append("latency      ").Append(Seconds(r.LatencyS)).Append(r.Schedule.Policy == Policy.Static
            ? $" to generate the longest output ({p.Workload.Output.Max} tokens; FT has no early termination)\n"
            : $" to generate a p99-length output ({p99} tokens)\n");
        text.Append("             end-to-end p50 ").Append(Seconds(r.EndToEnd.P50)).Append(", p90 ").Append(Seconds(r.EndToEnd.P90))
            .Append(", p99 ").Append(Seconds(r.EndToEnd.P99)).Append('\n');
        text.Append("             TTFT p50 ").Append(Seconds(r.Ttft.P50)).Append(", p99 ").Append(Seconds(r.Ttft.P99))
            .Append("; TPOT p50 ").Append(Seconds(r.Tpot.P50)).Append(", p99 ").Append(Seconds(r.Tpot.P99)).Append('\n');
        if (r.QueriesMeasured > 0)
            text.Append("measured     ").Append(r.QueriesMeasured.ToString(CultureInfo.InvariantCulture)).Append(" sampled queries\n");
        if (r.Devices.Count > 0)
        {
            text.Append("memory per device (GiB):\n");
            text.Append(DeviceTable(r.Devices));
        }
    }

    /// <summary>A table of <paramref name="devices"/>, consecutive identical devices merged into one "a-b" row.</summary>
    public static string DeviceTable(IReadOnlyList<DeviceReport> devices)
    {
        var rows = new List<string[]> { new[] { "device", "role", "stage", "tp", "layers", "weights", "activations", "kv", "total", "capacity", "busy" } };
        for (int i = 0; i < devices.Count;)
        {
            DeviceReport d = devices[i];
            int j = i + 1;
            while (j < devices.Count && devices[j].Device == devices[j - 1].Device + 1 && devices[j] == d with { Device = devices[j].Device })
                j++;
            string range = j - i == 1 ? $"{d.Device}" : $"{d.Device}-{devices[j - 1].Device}";
            rows.Add([range, d.Role, $"{d.Stage}", $"{d.TpDegree}", $"{d.Layers}", Number(d.WeightBytes / GiB, 2),
                Number(d.ActivationBytes / GiB, 2), Number(d.KvCacheBytes / GiB, 2), Number(d.TotalBytes / GiB, 2),
                Number(d.CapacityBytes / GiB, 2), $"{Number(d.BusyFraction * 100, 0)}%"]);
            i = j;
        }
        return Table(rows, c => c < 2, indent: "  ");
    }

    /// <summary>Columns padded to their widest cell: words left-aligned (<paramref name="isLeft"/>), numbers right-aligned.</summary>
    public static string Table(IReadOnlyList<string[]> rows, Func<int, bool> isLeft, string indent = "")
    {
        int columns = rows.Max(r => r.Length);
        int[] widths = new int[columns];
        foreach (string[] row in rows)
            for (int c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);
        var text = new StringBuilder();
        foreach (string[] row in rows)
        {
            var line = new StringBuilder(indent);
            for (int c = 0; c < row.Length; c++)
            {
                if (c > 0) line.Append("  ");
                line.Append(isLeft(c) ? row[c].PadRight(widths[c]) : row[c].PadLeft(widths[c]));
            }
            text.Append(line.ToString().TrimEnd()).Append('\n');
        }
        return text.ToString();
    }
}
