using System.CommandLine;
using System.Globalization;
using System.Text;
using ExeGPT.Core.Workloads;
using ExeGPT.Scheduler.Paper;

namespace ExeGPT.Cli;

/// <summary><c>exegpt paper</c>: the paper's evaluation (ExeGPT vs FasterTransformer under FT-derived bounds) on
/// analytic profiles.</summary>
internal static class PaperCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var json = new Option<bool>("--json") { Description = "Print the report as JSON instead of the table." };
        var output = new Option<string?>("--out", "-o") { Description = "Also write the JSON report to this file." };
        var only = new Option<string[]>("--only")
        {
            Description = "Evaluate only these scenarios, as model@cluster (e.g. opt-13b@a40x4); may repeat.",
            AllowMultipleArgumentsPerToken = true,
        };
        var tasks = new Option<string?>("--tasks") { Description = "Evaluate only these tasks, comma-separated (e.g. S,C1)." };
        var threads = new Option<int>("--threads") { Description = "Cells evaluated at once (default 0: every core)." };

        var command = new Command("paper", "Reproduce the paper's evaluation: ExeGPT vs FT throughput at FT-derived latency bounds.")
        {
            json, output, only, tasks, threads,
        };
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, _ =>
        {
            IReadOnlyList<PaperScenario> scenarios = Select(parse.GetValue(only), parse.GetValue(tasks));
            string? path = parse.GetValue(output);
            if (path is not null)
            {
                string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
                if (directory is not null && !Directory.Exists(directory))
                    throw new ArgumentException($"--out: the directory '{directory}' does not exist.");
            }
            int parallelism = parse.GetValue(threads);
            if (parallelism < 0)
                throw new ArgumentException($"--threads must be 0 (every core) or more, got {parallelism}");
            PaperReport report = PaperEvaluation.Run(scenarios, new PaperOptions(MaxParallelism: parallelism == 0 ? -1 : parallelism));
            if (path is not null)
                File.WriteAllText(path, PaperJson.ToJson(report, indented: true) + "\n");
            Console.Out.Write(parse.GetValue(json) ? PaperJson.ToJson(report, indented: true) + "\n" : Format(report));
            return 0;
        }, needsEngine: false));
        return command;
    }

    /// <summary>The default scenarios, narrowed by --only and --tasks.</summary>
    internal static IReadOnlyList<PaperScenario> Select(string[]? only, string? tasks)
    {
        IEnumerable<PaperScenario> chosen = PaperScenario.All;
        if (only is { Length: > 0 })
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (string item in only)
                foreach (string name in item.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!PaperScenario.All.Any(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)))
                        throw new ArgumentException($"--only: '{name}' is not a scenario of the evaluation (expected " +
                            $"{string.Join(", ", PaperScenario.All.Select(s => s.Name).Distinct())})");
                    names.Add(name);
                }
            chosen = chosen.Where(s => names.Contains(s.Name));
        }
        if (tasks is not null)
        {
            var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (string id in tasks.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                ids.Add(TaskPresets.Get(id).Name);
            chosen = chosen.Select(s => s with { Tasks = [.. s.Tasks.Where(ids.Contains)] }).Where(s => s.Tasks.Count > 0);
        }
        PaperScenario[] result = [.. chosen];
        if (result.Length == 0)
            throw new ArgumentException("--only/--tasks leave no scenario to evaluate (small/mid scenarios run S, T, C1; large ones G, C1, C2)");
        return result;
    }

    internal static string Format(PaperReport report)
    {
        var rows = new List<string[]>
        {
            new[] { "group", "model", "cluster", "task", "bound", "bound_s", "FT_seq/s", "FT_B", "ExeGPT_seq/s", "latency_s", "gain", "policy", "schedule" },
        };
        foreach (PaperRow r in report.Rows)
            rows.Add([PaperJson.GroupName(r.Group), r.Model, r.Cluster, r.Task, r.Bound, PlanningText.Number(r.BoundS, 2),
                PlanningText.Number(r.FtThroughput, 2), r.FtBatch?.ToString(CultureInfo.InvariantCulture) ?? "-",
                PlanningText.Number(r.Throughput, 2), PlanningText.Number(r.LatencyS, 2),
                r.Gain is double g ? PlanningText.Number(g, 2) + "x" : "-", r.Policy ?? "NS", r.Schedule?.ToString() ?? r.Reason ?? "-"]);
        var text = new StringBuilder(PlanningText.Table(rows, c => c is <= 4 or >= 11));
        PaperSummary m = report.Summary;
        int smallRows = report.Rows.Count(r => r.Group == PaperGroup.SmallMid && r.Gain is not null);
        int largeRows = report.Rows.Count(r => r.Group == PaperGroup.Large && r.Gain is not null);
        text.Append('\n');
        text.Append(string.Create(CultureInfo.InvariantCulture,
            $"average gain: small/mid {Gain(m.AverageGainSmallMid)} ({smallRows} rows), large {Gain(m.AverageGainLarge)} ({largeRows} rows), " +
            $"overall {Gain(m.AverageGainOverall)} ({m.GainCells} distinct cells)\n"));
        text.Append($"max gain: {Gain(m.MaxGain)}{(m.MaxGainCell is null ? "" : $" ({m.MaxGainCell})")}\n");
        text.Append(string.Create(CultureInfo.InvariantCulture,
            $"unsatisfiable: ExeGPT {m.UnsatisfiableExeGpt} of {m.Cells} cells, FT {m.UnsatisfiableFt} of {m.Cells}\n"));
        text.Append(string.Create(CultureInfo.InvariantCulture, $"wall time: {PlanningText.Number(m.WallSeconds, 1)} s on {m.Threads} thread(s)\n"));
        return text.ToString();
    }

    private static string Gain(double? g) => g is double v ? PlanningText.Number(v, 2) + "x" : "-";
}
