using System.Text.Json;
using ExeGPT.Simulator;

namespace ExeGPT.Scheduler.Json;

/// <summary>Writes simulator and scheduler answers as JSON (snake_case keys; times in seconds; an unknown or
/// unbounded number is null). <see cref="Utf8JsonWriter"/> only, so trimming and AOT are safe.</summary>
public static class ResultJson
{
    /// <summary>Writes <paramref name="result"/> as one object: <c>schedule</c>, <c>mode</c>, <c>feasible</c>,
    /// <c>reason</c>, the throughputs, <c>latency_s</c>, the <c>end_to_end</c>/<c>ttft</c>/<c>tpot</c> statistics,
    /// batch sizes, <c>encoder_devices</c>, <c>layout</c>, <c>devices</c> and <c>queries_measured</c>.</summary>
    public static void Write(Utf8JsonWriter writer, SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(result);
        writer.WriteStartObject();
        writer.WritePropertyName("schedule");
        ScheduleJson.Write(writer, result.Schedule);
        writer.WriteString("mode", result.Mode == SimulationMode.Event ? "event" : "expected");
        writer.WriteBoolean("feasible", result.Feasible);
        writer.StringOrNull("reason", result.Reason);
        WriteMetrics(writer, result);
        writer.WriteNumber("queries_measured", result.QueriesMeasured);
        writer.WriteEndObject();
    }

    /// <summary>The JSON text of <paramref name="result"/>.</summary>
    public static string ToJson(SimulationResult result, bool indented = false) =>
        JsonText.Of(w => Write(w, result), indented);

    /// <summary>Writes <paramref name="outcome"/> as one object: <c>satisfiable</c>, <c>reason</c>, <c>slo</c>,
    /// <c>policy</c>, <c>schedule</c> (null when unsatisfiable), the chosen schedule's metrics and <c>devices</c>
    /// (as <see cref="Write(Utf8JsonWriter, SimulationResult)"/>), <c>slo_metric</c>, <c>evaluations</c>,
    /// <c>elapsed_ms</c>, <c>tightest_latency</c>, <c>searches</c> and <c>frontier</c>.</summary>
    /// <param name="writer">Where to write.</param>
    /// <param name="outcome">The scheduler's answer.</param>
    /// <param name="slo">The objective it was asked for.</param>
    public static void Write(Utf8JsonWriter writer, ScheduleOutcome outcome, Slo slo)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(slo);
        SimulationResult? best = outcome.Best;
        writer.WriteStartObject();
        writer.WriteBoolean("satisfiable", outcome.Satisfiable && best is not null);
        writer.StringOrNull("reason", outcome.Reason);
        writer.WritePropertyName("slo");
        WriteSlo(writer, slo);
        writer.StringOrNull("policy", best is null ? null : PolicyNames.Name(best.Schedule.Policy));
        writer.WritePropertyName("schedule");
        if (best is null)
            writer.WriteNullValue();
        else
            ScheduleJson.Write(writer, best.Schedule);
        if (best is not null)
        {
            WriteMetrics(writer, best);
            writer.NumberOrNull("slo_metric", slo.Metric(best));
        }
        else
        {
            foreach (string name in (string[])["throughput_seq_per_s", "throughput_tokens_per_s", "latency_s", "slo_metric"])
                writer.WriteNull(name);
            writer.WriteStartArray("devices");
            writer.WriteEndArray();
        }
        writer.WriteNumber("evaluations", outcome.Evaluations);
        writer.WriteNumber("elapsed_ms", outcome.ElapsedMs);
        writer.NumberOrNull("tightest_latency", outcome.TightestLatency);
        writer.WriteStartArray("searches");
        foreach (SearchReport s in outcome.Searches)
        {
            writer.WriteStartObject();
            writer.WriteString("policy", PolicyNames.Name(s.Policy));
            writer.WriteNumber("tp_degree", s.TpDegree);
            writer.WriteNumber("tp_groups", s.TpGroups);
            writer.WriteNumber("evaluations", s.Evaluations);
            writer.WriteNumber("elapsed_ms", s.ElapsedMs);
            writer.WritePropertyName("best");
            if (s.Best is null)
                writer.WriteNullValue();
            else
                ScheduleJson.Write(writer, s.Best.Schedule);
            writer.NumberOrNull("throughput_seq_per_s", s.Best?.ThroughputSeqPerS);
            writer.NumberOrNull("slo_metric", s.Best is null ? null : slo.Metric(s.Best));
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartArray("frontier");
        foreach (FrontierPoint p in outcome.Frontier)
        {
            writer.WriteStartObject();
            writer.WritePropertyName("schedule");
            ScheduleJson.Write(writer, p.Schedule);
            writer.NumberOrNull("throughput_seq_per_s", p.ThroughputSeqPerS);
            writer.NumberOrNull("slo_metric", p.Latency);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The JSON text of <paramref name="outcome"/>.</summary>
    public static string ToJson(ScheduleOutcome outcome, Slo slo, bool indented = false) =>
        JsonText.Of(w => Write(w, outcome, slo), indented);

    /// <summary>Writes <paramref name="slo"/>: <c>kind</c> (p99-length, sla-a, ttft-tpot), <c>latency_s</c>,
    /// <c>ttft_s</c>, <c>tpot_s</c> (null when unbounded) and <c>bound</c> (the value <c>slo_metric</c> must
    /// not exceed).</summary>
    public static void WriteSlo(Utf8JsonWriter writer, Slo slo)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(slo);
        writer.WriteStartObject();
        writer.WriteString("kind", slo.Kind switch
        {
            SloKind.P99Length => "p99-length",
            SloKind.SlaA => "sla-a",
            _ => "ttft-tpot",
        });
        writer.NumberOrNull("latency_s", slo.Kind == SloKind.TtftTpot ? double.NaN : slo.Latency);
        writer.NumberOrNull("ttft_s", slo.Ttft);
        writer.NumberOrNull("tpot_s", slo.Tpot);
        writer.NumberOrNull("bound", slo.Bound);
        writer.WriteEndObject();
    }

    /// <summary>The metric properties every result carries, written into the current object.</summary>
    private static void WriteMetrics(Utf8JsonWriter writer, SimulationResult r)
    {
        writer.NumberOrNull("throughput_seq_per_s", r.ThroughputSeqPerS);
        writer.NumberOrNull("throughput_tokens_per_s", r.ThroughputTokensPerS);
        writer.NumberOrNull("latency_s", r.LatencyS);
        WriteStats(writer, "end_to_end", r.EndToEnd);
        WriteStats(writer, "ttft", r.Ttft);
        WriteStats(writer, "tpot", r.Tpot);
        writer.NumberOrNull("decode_batch", r.DecodeBatch);
        writer.NumberOrNull("peak_decode_batch", r.PeakDecodeBatch);
        writer.WriteNumber("encoder_devices", r.EncoderDevices);
        writer.WriteString("layout", r.Layout);
        writer.WriteStartArray("devices");
        foreach (DeviceReport d in r.Devices)
        {
            writer.WriteStartObject();
            writer.WriteNumber("device", d.Device);
            writer.WriteString("role", d.Role);
            writer.WriteNumber("stage", d.Stage);
            writer.WriteNumber("tp_degree", d.TpDegree);
            writer.WriteNumber("layers", d.Layers);
            writer.NumberOrNull("busy_fraction", d.BusyFraction);
            writer.WriteNumber("weight_bytes", d.WeightBytes);
            writer.WriteNumber("activation_bytes", d.ActivationBytes);
            writer.WriteNumber("kv_cache_bytes", d.KvCacheBytes);
            writer.WriteNumber("capacity_bytes", d.CapacityBytes);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteStats(Utf8JsonWriter writer, string name, LatencyStats s)
    {
        writer.WriteStartObject(name);
        writer.NumberOrNull("mean", s.Mean);
        writer.NumberOrNull("p50", s.P50);
        writer.NumberOrNull("p90", s.P90);
        writer.NumberOrNull("p99", s.P99);
        writer.WriteEndObject();
    }
}
