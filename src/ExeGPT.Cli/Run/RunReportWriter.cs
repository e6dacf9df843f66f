using System.Globalization;
using System.Text;
using System.Text.Json;
using ExeGPT.Runner;
using ExeGPT.Scheduler.Json;
using ExeGPT.Simulator;

namespace ExeGPT.Cli.Run;

/// <summary>`exegpt run`'s report: predicted next to measured for every schedule run, the errors in %, and the gain
/// of the chosen schedule over the static baseline — as a table or as JSON.</summary>
internal static class RunReportWriter
{
    public static double ErrorPercent(double predicted, double measured) => 100.0 * (predicted - measured) / measured;

    public static string Text(ExperimentReport report)
    {
        RunSettings s = report.Settings;
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        string devices = s.Engine.IsCuda ? "GPUs" : "CPU ranks";
        text.Append(c, $"model        {s.Model.Name} on {s.Cluster.Name} ({s.Cluster.TotalDevices} {devices}), task {s.Workload.Name}, {s.Queries} queries, seed {s.Seed}\n");
        text.Append(c, $"profile      {report.Profile.Description}{(report.ProfileFromCache ? " (cached)" : "")}\n");
        text.Append(c, $"bound        {report.Slo}\n");
        var rows = new List<string[]>
        {
            new[] { "run", "schedule", "seq/s pred", "seq/s meas", "err", "p99 e2e pred", "p99 e2e meas", "err", "wall s" },
        };
        foreach (ScheduleRun run in report.Runs)
        {
            SimulationResult p = run.Predicted;
            RunMetrics m = run.Measured;
            rows.Add([run.Role, p.Schedule.ToString(), F(p.ThroughputSeqPerS, 3), F(m.ThroughputSeqPerS, 3),
                Pct(ErrorPercent(p.ThroughputSeqPerS, m.ThroughputSeqPerS)), F(p.EndToEnd.P99, 2), F(m.EndToEnd.P99, 2),
                Pct(ErrorPercent(p.EndToEnd.P99, m.EndToEnd.P99)), F(run.Result.WallSeconds, 1)]);
        }
        text.Append(PlanningText.Table(rows, col => col <= 1, "  "));
        if (report.Baseline is { } baseline)
            text.Append(c, $"gain         chosen / static baseline: {F(report.Chosen.Measured.ThroughputSeqPerS / baseline.Measured.ThroughputSeqPerS, 2)}x measured, " +
                $"{F(report.Chosen.Predicted.ThroughputSeqPerS / baseline.Predicted.ThroughputSeqPerS, 2)}x predicted\n");
        text.Append("(errors are (predicted - measured) / measured; measured over each run's steady window, see RunMetrics)\n");
        return text.ToString();
    }

    public static string Json(ExperimentReport report) => JsonText.Of(w =>
    {
        RunSettings s = report.Settings;
        w.WriteStartObject();
        w.WriteString("model", s.Model.Name);
        w.WriteString("cluster", s.Cluster.Name);
        w.WriteString("task", s.Workload.Name);
        w.WriteNumber("queries", s.Queries);
        w.WriteNumber("seed", s.Seed);
        w.WritePropertyName("slo");
        ResultJson.WriteSlo(w, report.Slo);
        w.WriteString("profile", report.Profile.Description);
        w.WriteBoolean("profile_cached", report.ProfileFromCache);
        ScheduleRun chosen = report.Chosen;
        w.WritePropertyName("schedule");
        ScheduleJson.Write(w, chosen.Predicted.Schedule);
        w.WritePropertyName("predicted");
        Predicted(w, chosen.Predicted);
        w.WritePropertyName("measured");
        Measured(w, chosen.Measured);
        w.WritePropertyName("error_pct");
        Errors(w, chosen);
        if (report.Baseline is { } baseline)
        {
            w.WriteStartObject("gain_over_static");
            w.WriteNumber("measured", chosen.Measured.ThroughputSeqPerS / baseline.Measured.ThroughputSeqPerS);
            w.WriteNumber("predicted", chosen.Predicted.ThroughputSeqPerS / baseline.Predicted.ThroughputSeqPerS);
            w.WriteEndObject();
        }
        w.WriteStartArray("runs");
        foreach (ScheduleRun run in report.Runs)
        {
            w.WriteStartObject();
            w.WriteString("role", run.Role);
            w.WritePropertyName("schedule");
            ScheduleJson.Write(w, run.Predicted.Schedule);
            w.WriteString("layout", run.Predicted.Layout);
            w.WritePropertyName("predicted");
            Predicted(w, run.Predicted);
            w.WritePropertyName("measured");
            Measured(w, run.Measured);
            w.WritePropertyName("error_pct");
            Errors(w, run);
            w.WriteNumber("wall_s", run.Result.WallSeconds);
            w.WriteNumber("mean_encoder_batch", run.Result.EncoderBatches.Average(b => b.Queries));
            w.WriteNumber("mean_decode_rows_per_pass", run.Result.MeanDecodeBatch);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }, indented: true);

    /// <summary>Every query of every run as CSV: what the runner did, for checking a run against the simulator.</summary>
    public static string RequestsCsv(ExperimentReport report)
    {
        var text = new StringBuilder("run,policy,query,input_len,output_len,encoder_batch,started_s,first_token_s,finished_s\n");
        foreach (ScheduleRun run in report.Runs)
            for (int i = 0; i < run.Result.Requests.Count; i++)
            {
                RequestRecord q = run.Result.Requests[i];
                text.Append(CultureInfo.InvariantCulture,
                    $"{run.Role},{PolicyNames.Name(run.Predicted.Schedule.Policy)},{i},{run.Inputs[i]},{q.Tokens.Length},{q.EncoderBatch},{q.Started:0.######},{q.FirstToken:0.######},{q.Finished:0.######}\n");
            }
        return text.ToString();
    }

    private static void Predicted(Utf8JsonWriter w, SimulationResult p)
    {
        w.WriteStartObject();
        w.WriteNumber("throughput_seq_per_s", p.ThroughputSeqPerS);
        w.WriteNumber("throughput_tokens_per_s", p.ThroughputTokensPerS);
        w.WriteNumber("latency_p99_s", p.EndToEnd.P99);
        w.WriteNumber("latency_p50_s", p.EndToEnd.P50);
        w.WriteNumber("paper_latency_s", p.LatencyS);
        w.WriteNumber("ttft_p99_s", p.Ttft.P99);
        w.WriteNumber("tpot_p99_s", p.Tpot.P99);
        w.WriteNumber("decode_batch", p.DecodeBatch);
        w.WriteEndObject();
    }

    private static void Measured(Utf8JsonWriter w, RunMetrics m)
    {
        w.WriteStartObject();
        w.WriteNumber("throughput_seq_per_s", m.ThroughputSeqPerS);
        w.WriteNumber("throughput_tokens_per_s", m.ThroughputTokensPerS);
        w.WriteNumber("latency_p99_s", m.EndToEnd.P99);
        w.WriteNumber("latency_p50_s", m.EndToEnd.P50);
        w.WriteNumber("ttft_p99_s", m.Ttft.P99);
        w.WriteNumber("tpot_p99_s", m.Tpot.P99);
        w.WriteNumber("queries_measured", m.MeasuredQueries);
        w.WriteNumber("warm_batches", m.WarmBatches);
        w.WriteNumber("tail_batches", m.TailBatches);
        w.WriteNumber("window_s", m.WindowSeconds);
        w.WriteEndObject();
    }

    private static void Errors(Utf8JsonWriter w, ScheduleRun run)
    {
        w.WriteStartObject();
        w.WriteNumber("throughput", ErrorPercent(run.Predicted.ThroughputSeqPerS, run.Measured.ThroughputSeqPerS));
        w.WriteNumber("latency_p99", ErrorPercent(run.Predicted.EndToEnd.P99, run.Measured.EndToEnd.P99));
        w.WriteEndObject();
    }

    private static string F(double v, int digits) => PlanningText.Number(v, digits);

    private static string Pct(double v) => (v >= 0 ? "+" : "") + v.ToString("0.0", CultureInfo.InvariantCulture) + "%";
}
