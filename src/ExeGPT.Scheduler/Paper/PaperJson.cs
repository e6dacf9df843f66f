using System.Text.Json;
using ExeGPT.Scheduler.Json;

namespace ExeGPT.Scheduler.Paper;

/// <summary>Writes a <see cref="PaperReport"/> as JSON: <c>scenarios</c>, <c>rows</c>, <c>baselines</c> and
/// <c>summary</c> (snake_case keys; an unbounded or missing number is null).</summary>
public static class PaperJson
{
    /// <summary>Writes <paramref name="report"/> as one object.</summary>
    public static void Write(Utf8JsonWriter writer, PaperReport report)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(report);
        writer.WriteStartObject();
        writer.WriteStartArray("scenarios");
        foreach (PaperScenario s in report.Scenarios)
        {
            writer.WriteStartObject();
            writer.WriteString("group", GroupName(s.Group));
            writer.WriteString("model", s.Model);
            writer.WriteString("cluster", s.Cluster);
            writer.WriteStartArray("tasks");
            foreach (string t in s.Tasks)
                writer.WriteStringValue(t);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();

        writer.WriteStartArray("rows");
        foreach (PaperRow r in report.Rows)
        {
            writer.WriteStartObject();
            writer.WriteString("group", GroupName(r.Group));
            writer.WriteString("model", r.Model);
            writer.WriteString("cluster", r.Cluster);
            writer.WriteString("task", r.Task);
            writer.WriteString("bound", r.Bound);
            writer.NumberOrNull("bound_s", r.BoundS);
            writer.NumberOrNull("ft_batch", r.FtBatch);
            writer.NumberOrNull("ft_throughput_seq_per_s", r.FtThroughput);
            writer.NumberOrNull("ft_latency_s", r.FtLatencyS);
            writer.WriteBoolean("satisfiable", r.Schedule is not null);
            writer.StringOrNull("policy", r.Policy);
            writer.WritePropertyName("schedule");
            if (r.Schedule is null)
                writer.WriteNullValue();
            else
                ScheduleJson.Write(writer, r.Schedule);
            writer.NumberOrNull("throughput_seq_per_s", r.Throughput);
            writer.NumberOrNull("latency_s", r.LatencyS);
            writer.NumberOrNull("gain", r.Gain);
            writer.WriteNumber("evaluations", r.Evaluations);
            writer.StringOrNull("reason", r.Reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();

        writer.WriteStartObject("baselines");
        foreach (var (cell, points) in report.Baselines)
        {
            writer.WriteStartArray(cell);
            foreach (BaselinePoint p in points)
            {
                writer.WriteStartObject();
                writer.WriteNumber("batch", p.Batch);
                writer.NumberOrNull("throughput_seq_per_s", p.ThroughputSeqPerS);
                writer.NumberOrNull("latency_s", p.LatencyS);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();

        PaperSummary m = report.Summary;
        writer.WriteStartObject("summary");
        writer.NumberOrNull("average_gain_small_mid", m.AverageGainSmallMid);
        writer.NumberOrNull("average_gain_large", m.AverageGainLarge);
        writer.NumberOrNull("average_gain_overall", m.AverageGainOverall);
        writer.NumberOrNull("max_gain", m.MaxGain);
        writer.StringOrNull("max_gain_cell", m.MaxGainCell);
        writer.WriteNumber("cells", m.Cells);
        writer.WriteNumber("gain_cells", m.GainCells);
        writer.WriteNumber("unsatisfiable_exegpt", m.UnsatisfiableExeGpt);
        writer.WriteNumber("unsatisfiable_ft", m.UnsatisfiableFt);
        writer.WriteNumber("wall_s", m.WallSeconds);
        writer.WriteNumber("threads", m.Threads);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The JSON text of <paramref name="report"/>.</summary>
    public static string ToJson(PaperReport report, bool indented = false) =>
        JsonText.Of(w => Write(w, report), indented);

    /// <summary>"small-mid" or "large".</summary>
    public static string GroupName(PaperGroup group) => group == PaperGroup.Large ? "large" : "small-mid";
}
