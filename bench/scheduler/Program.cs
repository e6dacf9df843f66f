using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Scheduler;
using ExeGPT.Simulator;

// Scheduling time and simulator calls of branch-and-bound vs exhaustive search, for the paper's deployments
// (Table 2) and tasks, at four bounds each: 1x, 2.5x and 10x the static baseline's batch-1 latency, and none.
// Usage: exegpt-bench-scheduler [--out FILE] [--quick]
string? outPath = null;
bool quick = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else if (args[i] == "--quick") quick = true;
    else { Console.Error.WriteLine($"unknown argument '{args[i]}' (usage: [--out FILE] [--quick])"); return 1; }
}

(string Model, string Cluster, string[] Tasks)[] deployments = quick
    ? [("opt-13b", "a40x4", ["S", "T"])]
    :
    [
        ("t5-11b", "a40x8", ["S", "T", "C1"]),
        ("opt-13b", "a40x4", ["S", "T", "C1"]),
        ("gpt3-39b", "a40x16", ["S", "T", "C1"]),
        ("gpt3-101b", "a100x16", ["S", "T", "C1", "G", "C2"]),
        ("gpt3-175b", "a100x16", ["G", "C1", "C2"]),
        ("gpt3-175b", "a40x32", ["G", "C1", "C2"]),
        ("gpt3-341b", "a40x48", ["G", "C1", "C2"]),
    ];
double[] factors = [1.0, 2.5, 10.0, double.PositiveInfinity];

var rows = new List<Dictionary<string, object?>>();
foreach (var (modelName, clusterName, tasks) in deployments)
{
    ModelSpec model = ModelPresets.Get(modelName);
    ClusterSpec cluster = ClusterPresets.Get(clusterName);
    ProfileTables profile = AnalyticProfile.Build(model, cluster);
    foreach (string task in tasks)
    {
        var ctx = new SimulationContext(model, cluster, TaskPresets.Get(task), profile);
        double unit = XSimulator.Simulate(ctx, new Schedule(Policy.Static, 1)).LatencyS;
        foreach (double f in factors)
        {
            var slo = new Slo(SloKind.P99Length, f * unit);
            var request = new ScheduleRequest(ctx, slo);
            ScheduleOutcome bb = XScheduler.Schedule(request);
            ScheduleOutcome ex = XScheduler.Schedule(request with { Exhaustive = true });
            double tb = bb.Best?.ThroughputSeqPerS ?? 0, te = ex.Best?.ThroughputSeqPerS ?? 0;
            rows.Add(new()
            {
                ["model"] = modelName, ["cluster"] = clusterName, ["task"] = task,
                ["bound_s"] = double.IsInfinity(slo.Latency) ? null : Math.Round(slo.Latency, 4),
                ["bb_schedule"] = bb.Best?.Schedule.ToString(), ["bb_throughput_seq_per_s"] = Math.Round(tb, 4),
                ["bb_evaluations"] = bb.Evaluations, ["bb_elapsed_ms"] = Math.Round(bb.ElapsedMs, 1),
                ["exhaustive_schedule"] = ex.Best?.Schedule.ToString(), ["exhaustive_throughput_seq_per_s"] = Math.Round(te, 4),
                ["exhaustive_evaluations"] = ex.Evaluations, ["exhaustive_elapsed_ms"] = Math.Round(ex.ElapsedMs, 1),
                ["within_epsilon"] = te == 0 ? tb == 0 : tb >= te * (1 - request.ThroughputTolerance),
            });
            Console.WriteLine($"{modelName}@{clusterName} {task} bound {(double.IsInfinity(slo.Latency) ? "inf" : slo.Latency.ToString("F2", CultureInfo.InvariantCulture))} s: " +
                $"B&B {bb.Evaluations} evals {bb.ElapsedMs:F0} ms -> {tb:F3}/s; exhaustive {ex.Evaluations} evals {ex.ElapsedMs:F0} ms -> {te:F3}/s");
        }
    }
}

// The RRA batch-size question (paper's B_D = B_E / E[1/⌈d/N_D⌉] vs Little's law B_E·E[⌈d/N_D⌉]), settled
// against the event-level simulation's measured mean decode batch.
var batchModel = new List<Dictionary<string, object?>>();
{
    ModelSpec model = ModelPresets.Get("opt-13b");
    ClusterSpec cluster = ClusterPresets.Get("a40x4");
    ProfileTables profile = AnalyticProfile.Build(model, cluster);
    foreach (string task in quick ? ["S"] : TaskPresets.Names)
        foreach (int nd in new[] { 1, 8, 32 })
        {
            var schedule = new Schedule(Policy.Rra, 16, nd, TpDegree: 4, TpGroups: 1);
            var little = new SimulationContext(model, cluster, TaskPresets.Get(task), profile);
            var paper = new SimulationContext(model, cluster, TaskPresets.Get(task), profile, new SimulationOptions(RraBatch: RraBatchModel.Paper));
            SimulationResult l = XSimulator.Simulate(little, schedule), p = XSimulator.Simulate(paper, schedule);
            SimulationResult e = XSimulator.Simulate(little, schedule, SimulationMode.Event);
            if (!e.Feasible && double.IsNaN(e.ThroughputSeqPerS)) continue;
            batchModel.Add(new()
            {
                ["task"] = task, ["schedule"] = schedule.ToString(),
                ["decode_batch_littles_law"] = Math.Round(l.DecodeBatch, 2), ["decode_batch_paper"] = Math.Round(p.DecodeBatch, 2),
                ["decode_batch_event"] = Math.Round(e.DecodeBatch, 2),
                ["throughput_littles_law"] = Math.Round(l.ThroughputSeqPerS, 3), ["throughput_paper"] = Math.Round(p.ThroughputSeqPerS, 3),
                ["throughput_event"] = Math.Round(e.ThroughputSeqPerS, 3),
            });
            Console.WriteLine($"RRA batch model, task {task} N_D={nd}: B_D Little {l.DecodeBatch:F1}, paper {p.DecodeBatch:F1}, event {e.DecodeBatch:F1}");
        }
}

double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a.Length == 0 ? 0 : a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
var summary = new Dictionary<string, object?>
{
    ["scenarios"] = rows.Count,
    ["within_epsilon"] = rows.Count(r => (bool)r["within_epsilon"]!),
    ["median_bb_elapsed_ms"] = Median(rows.Select(r => (double)r["bb_elapsed_ms"]!)),
    ["max_bb_elapsed_ms"] = rows.Max(r => (double)r["bb_elapsed_ms"]!),
    ["median_exhaustive_elapsed_ms"] = Median(rows.Select(r => (double)r["exhaustive_elapsed_ms"]!)),
    ["median_evaluation_ratio"] = Median(rows.Select(r => (int)r["bb_evaluations"]! / (double)(int)r["exhaustive_evaluations"]!)),
};
var document = new Dictionary<string, object?>
{
    ["benchmark"] = "scheduler: branch-and-bound vs exhaustive (expected-value simulator, analytic profiles)",
    ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
    ["machine"] = new Dictionary<string, object?>
    {
        ["cpu"] = HostCpu.Name, ["logical_cores"] = Environment.ProcessorCount,
        ["os"] = RuntimeInformation.OSDescription, ["runtime"] = RuntimeInformation.FrameworkDescription,
    },
    ["summary"] = summary,
    ["scenarios"] = rows,
    ["rra_batch_model"] = batchModel,
};
string json = JsonSerializer.Serialize(document, BenchJson.Default.DictionaryStringObject);
if (outPath is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
    File.WriteAllText(outPath, json + "\n");
    Console.WriteLine($"wrote {outPath}");
}
Console.WriteLine(JsonSerializer.Serialize(summary, BenchJson.Default.DictionaryStringObject));
return 0;
