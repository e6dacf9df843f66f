using System.CommandLine;
using ExeGPT.Cli.Run;
using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Workloads;
using ExeGPT.Runtime;
using ExeGPT.Simulator;

namespace ExeGPT.Cli;

/// <summary><c>exegpt run</c>, the main job: profile the engine (cached) → schedule → run the workload for real on CPU
/// ranks or the GPUs of this node → measured next to predicted, for the chosen schedule, the other paper family's best
/// and the baselines.</summary>
internal static class RunCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A size preset (`exegpt presets`) or an OPT checkpoint directory.",
            DefaultValueFactory = _ => "opt-125m",
        };
        var cluster = new Option<string>("--cluster", "-c")
        {
            Description = "Devices to run on: cpu or cpux<N> (each rank gets cores/N threads); with --backend cuda a GPU cluster of one node, e.g. h100x2 (GPUs 0..N-1).",
            DefaultValueFactory = _ => "cpux2",
        };
        var task = new Option<string>("--task", "-t")
        {
            Description = "A task of the paper's Table 3 (S, T, G, C1, C2) or a trace file of input/output lengths.",
            DefaultValueFactory = _ => "S",
        };
        var latency = new Option<string>("--latency", "-l")
        {
            Description = "The latency bound (e.g. 20s), or auto: 4 x the tightest latency the paper's policies reach.",
            DefaultValueFactory = _ => "auto",
        };
        var slo = new Option<string?>("--slo") { Description = "What the bound constrains: p99-length (default), sla-a or ttft=<t>,tpot=<t>." };
        var queries = new Option<int>("--queries", "-n")
        {
            Description = "Queries sampled from the task per schedule (the same ones for every schedule).",
            DefaultValueFactory = _ => 96,
        }.AtLeast(8);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the sampled queries, the random weights and sampling.", DefaultValueFactory = _ => 1UL };
        var profile = new Option<string?>("--profile") { Description = "Use this profile instead of measuring (or reusing the cached) one." };
        var noCache = new Option<bool>("--no-cache") { Description = "Measure the profile even when a cached one matches." };
        var policies = new Option<string?>("--policies") { Description = "Paper policies to choose from (default rra,waa-c,waa-m)." };
        var baselines = new Option<string?>("--baselines") { Description = "Baselines run for comparison (default static; add continuous)." };
        var maxBatch = new Option<int>("--max-batch")
        {
            Description = "Largest encoder batch B_E searched (default 8: the profile then covers every batch the runs need).",
            DefaultValueFactory = _ => 8,
        }.AtLeast(1);
        var threads = new Option<int>("--threads-per-rank") { Description = "CPU threads per rank (default: cores / ranks)." }.AtLeast(0);
        var backend = BackendChoice.BackendOption();
        var dtype = BackendChoice.DtypeOption();
        var adjust = new Option<bool>("--adjust")
        {
            Description = "Run with the paper's dynamic workload adjustment (off by default: the simulator predicts the schedule's fixed B_E, so the comparison runs it as planned).",
        };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (schedule, predicted, measured, error_pct, runs)." };
        var output = new Option<string?>("--out", "-o") { Description = "Also write the JSON report to this file." };
        var records = new Option<string?>("--requests-csv") { Description = "Also write every query of every run (lengths, batch, times) to this CSV file." };
        var command = new Command("run", "Profile, schedule and run a workload on CPU ranks or GPUs; report measured next to predicted throughput and latency.");
        foreach (Option option in (Option[])[model, cluster, task, latency, slo, queries, seed, profile, noCache, policies, baselines,
                     maxBatch, threads, backend, dtype, adjust, json, output, records])
            command.Options.Add(option);
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, context =>
        {
            BackendChoice engine = BackendChoice.Parse(parse.GetValue(backend)!, parse.GetValue(dtype));
            ModelSource source = ModelSource.Resolve(parse.GetValue(model)!);
            ClusterSpec spec = ClusterPresets.Get(parse.GetValue(cluster)!);
            WorkloadSpec workload = WorkloadResolver.Resolve(parse.GetValue(task)!);
            var settings = new RunSettings(source, spec, workload, parse.GetValue(latency), parse.GetValue(slo), parse.GetValue(queries),
                parse.GetValue(seed), parse.GetValue(profile), !parse.GetValue(noCache),
                ScheduleCommand.ParsePolicies(parse.GetValue(policies)) ?? [Policy.Rra, Policy.WaaC, Policy.WaaM],
                ScheduleCommand.ParsePolicies(parse.GetValue(baselines)) ?? [Policy.Static],
                parse.GetValue(maxBatch), parse.GetValue(threads), parse.GetValue(adjust), engine);
            if (settings.Policies.Any(p => p is Policy.Static or Policy.Continuous))
                throw new SpecException("--policies takes the paper's policies (rra, waa-c, waa-m); baselines go in --baselines");
            ExperimentReport report = RunExperiment.Execute(settings, ProfileCommand.TerminalProgress(), context.Loggers);
            string jsonText = RunReportWriter.Json(report);
            if (parse.GetValue(output) is string path)
                File.WriteAllText(path, jsonText + "\n");
            if (parse.GetValue(records) is string csv)
                File.WriteAllText(csv, RunReportWriter.RequestsCsv(report));
            Console.Out.Write(parse.GetValue(json) ? jsonText + "\n" : RunReportWriter.Text(report));
            return 0;
        }));
        return command;
    }
}
