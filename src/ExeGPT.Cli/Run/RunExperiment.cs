using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Native.Interop;
using ExeGPT.Profiler;
using ExeGPT.Runner;
using ExeGPT.Runtime;
using ExeGPT.Scheduler;
using ExeGPT.Simulator;
using Microsoft.Extensions.Logging;

namespace ExeGPT.Cli.Run;

/// <summary>What `exegpt run` was asked to do.</summary>
internal sealed record RunSettings(ModelSource Model, ClusterSpec Cluster, WorkloadSpec Workload, string? Latency, string? SloKind,
    int Queries, ulong Seed, string? ProfilePath, bool UseCache, IReadOnlyList<Policy> Policies, IReadOnlyList<Policy> Baselines,
    int MaxBatch, int ThreadsPerDevice, bool Adjust, BackendChoice Engine);

/// <summary>One schedule run for real next to its prediction.</summary>
internal sealed record ScheduleRun(string Role, SimulationResult Predicted, RunMetrics Measured, RunResult Result, IReadOnlyList<int> Inputs);

/// <summary>The whole experiment: the plan, the runs, and the chosen one's gain over the static baseline.</summary>
internal sealed record ExperimentReport(RunSettings Settings, Slo Slo, ProfileTables Profile, bool ProfileFromCache, ScheduleOutcome Outcome,
    IReadOnlyList<ScheduleRun> Runs)
{
    public ScheduleRun Chosen => Runs[0];

    public ScheduleRun? Baseline => Runs.FirstOrDefault(r => r.Predicted.Schedule.Policy == Policy.Static);
}

/// <summary>
/// The main job: profile the engine on the cluster's CPU ranks or GPUs (cached), schedule with the measured profile,
/// then run the chosen schedule, the best schedule of the other paper family, and the baselines on the real engine with
/// the same sampled queries, measuring each the way the simulator predicts it (<see cref="RunMetrics"/>).
/// </summary>
internal static class RunExperiment
{
    public static ExperimentReport Execute(RunSettings settings, IProgress<ProfileProgress>? progress, ILoggerFactory loggers)
    {
        ILogger log = loggers.CreateLogger("exegpt.run");
        ClusterSpec cluster = settings.Cluster;
        RequireClusterFits(cluster, settings.Engine);
        exg_model_config config = settings.Model.Config;
        // The engine stores the model in f32 on the CPU backend, in bf16 or f16 on CUDA.
        ModelSpec model = XProfiler.ModelSpecOf(config, settings.Model.Name, dtypeBytes: settings.Engine.IsCuda ? 2 : 4);
        WorkloadSpec workload = settings.Workload;
        if (workload.MaxTotalLength - 1 > config.max_positions)
            throw new SpecException($"task {workload.Name}: inputs up to {workload.Input.Max} plus outputs up to {workload.Output.Max} tokens exceed {settings.Model.Name}'s {config.max_positions} positions");

        bool fromCache = false;
        ProfileTables profile;
        if (settings.ProfilePath is string path)
            profile = ProfileJson.Read(path);
        else
        {
            ProfileRequest request = ProfileFor(settings, config, model, cluster, workload);
            profile = settings.UseCache
                ? XProfiler.ProfileCached(request, null, progress, out fromCache, log)
                : XProfiler.Profile(request, progress);
        }
        string backendName = settings.Engine.IsCuda ? "cuda" : "cpu";
        if (profile.Metadata.Kind == ProfileKind.Measured && profile.Metadata.Backend != backendName)
            throw new SpecException($"the profile was measured on the {profile.Metadata.Backend} backend, but this run uses {backendName}");
        profile.RequireMatches(model);
        if (profile.Metadata.KernelLibrary is string plugin)
            throw new SpecException($"the profile measured kernel library '{plugin}', but exegpt run runs the engine's own kernels; profile without --kernel-lib");
        var ctx = new SimulationContext(model, cluster, workload, profile, new SimulationOptions(Seed: settings.Seed));

        Slo slo = ResolveSlo(settings, ctx, log);
        var families = settings.Policies.Concat(settings.Baselines).Distinct().ToList();
        ScheduleOutcome outcome = XScheduler.Schedule(new ScheduleRequest(ctx, slo, families, MaxBatch: settings.MaxBatch));
        var plan = new List<(string Role, SimulationResult Result)>();
        SimulationResult? chosen = BestOf(outcome, settings.Policies);
        if (chosen is null)
            throw new SpecException($"no {string.Join("/", settings.Policies.Select(PolicyNames.Name))} schedule meets {slo} " +
                $"(tightest reachable: {outcome.TightestLatency?.ToString("0.###") ?? "none"} s)");
        plan.Add(("chosen", chosen));
        // The best of the other paper family, so RRA and WAA are both measured.
        bool chosenIsWaa = chosen.Schedule.Policy is Policy.WaaC or Policy.WaaM;
        var others = settings.Policies.Where(p => (p is Policy.WaaC or Policy.WaaM) != chosenIsWaa).ToList();
        if (BestOf(outcome, others) is { } other)
            plan.Add((chosenIsWaa ? "best rra" : "best waa", other));
        foreach (Policy baseline in settings.Baselines)
            if (BestOf(outcome, [baseline]) is { } b)
                plan.Add(($"baseline {PolicyNames.Name(baseline)}", b));

        IReadOnlyList<RunRequest> requests = Requests(workload, settings.Queries, settings.Seed, config.vocab_size);
        var runs = new List<ScheduleRun>();
        foreach (var (role, predicted) in plan)
        {
            ExecutionLayout layout = XSimulator.Layout(ctx, predicted.Schedule);
            log.LogInformation("run {Role}: {Schedule} ({Layout}), {Queries} queries", role, predicted.Schedule, predicted.Layout, requests.Count);
            using var runner = new XRunner(layout, new RunnerOptions
            {
                Model = settings.Model,
                Seed = settings.Seed,
                SamplingSeed = settings.Seed,
                ThreadsPerDevice = settings.ThreadsPerDevice,
                Backend = settings.Engine.Kind,
                Dtype = settings.Engine.Dtype,
                Adjustment = new AdjustmentOptions(Enabled: settings.Adjust),
            }, loggers.CreateLogger<XRunner>());
            RunResult result = runner.Run(requests);
            RunMetrics measured = RunMetrics.From(result);
            log.LogInformation("  measured {Measured:0.###} seq/s (predicted {Predicted:0.###}), p99 e2e {M99:0.##} s (predicted {P99:0.##}) in {Wall:0.#} s",
                measured.ThroughputSeqPerS, predicted.ThroughputSeqPerS, measured.EndToEnd.P99, predicted.EndToEnd.P99, result.WallSeconds);
            runs.Add(new ScheduleRun(role, predicted, measured, result, [.. requests.Select(q => q.Prompt.Length)]));
        }
        return new ExperimentReport(settings, slo, profile, fromCache, outcome, runs);
    }

    /// <summary>CPU ranks run cluster cpu / cpux&lt;N&gt;; CUDA runs a GPU cluster of one node (this process drives the
    /// GPUs of one node; device d of the layout is GPU d).</summary>
    private static void RequireClusterFits(ClusterSpec cluster, BackendChoice engine)
    {
        bool cpuCluster = cluster.Device.Name.StartsWith("cpu", StringComparison.Ordinal);
        if (!engine.IsCuda && !cpuCluster)
            throw new SpecException($"exegpt run with --backend cpu executes on CPU ranks (cluster cpu or cpux<N>); '{cluster.Name}' is a GPU cluster: add --backend cuda");
        if (engine.IsCuda && cpuCluster)
            throw new SpecException($"exegpt run with --backend cuda executes on GPUs (e.g. cluster h100x2); '{cluster.Name}' is CPU ranks");
        if (engine.IsCuda && cluster.Nodes > 1)
            throw new SpecException($"exegpt run drives the GPUs of one node; '{cluster.Name}' has {cluster.Nodes} nodes (at most {cluster.DevicesPerNode} GPUs)");
    }

    private static SimulationResult? BestOf(ScheduleOutcome outcome, IReadOnlyList<Policy> policies) =>
        outcome.Searches.Where(s => policies.Contains(s.Policy) && s.Best is not null)
            .Select(s => s.Best!).OrderByDescending(r => r.ThroughputSeqPerS).FirstOrDefault();

    /// <summary>The bound as given, or "auto": 4× the tightest latency any of the paper's policies reaches. Looser
    /// bounds let the search pick schedules whose queries live through many encoder batches (e.g. RRA with N_D = 1),
    /// which a run of a few hundred queries cannot measure in steady state; tighter ones leave only B_E = 1.</summary>
    private static Slo ResolveSlo(RunSettings settings, SimulationContext ctx, ILogger log)
    {
        if (settings.Latency is not null && !settings.Latency.Equals("auto", StringComparison.OrdinalIgnoreCase))
            return Slo.Parse(settings.Latency, settings.SloKind);
        Slo open = Slo.Parse("inf", settings.SloKind);
        ScheduleOutcome free = XScheduler.Schedule(new ScheduleRequest(ctx, open, settings.Policies, MaxBatch: settings.MaxBatch));
        if (free.Best is null)
            throw new SpecException($"no {string.Join("/", settings.Policies.Select(PolicyNames.Name))} schedule is feasible on {ctx.Cluster.Name}: {free.Reason}");
        double tightest = free.Searches.Where(s => s.Best is not null).Min(s => open.Metric(s.Best!));
        double bound = 4 * tightest;
        log.LogInformation("latency bound auto: {Bound:0.###} s (4 x the tightest best-per-family latency {Tightest:0.###} s)", bound, tightest);
        return Slo.Parse($"{bound:0.###}s", settings.SloKind);
    }

    /// <summary>A grid covering what the schedules will ask: prompts up to the longest input, contexts up to input +
    /// output, decode batches up to the WAA decoders' running batch at the largest B_E searched.</summary>
    private static ProfileRequest ProfileFor(RunSettings settings, exg_model_config config, ModelSpec model, ClusterSpec cluster, WorkloadSpec workload)
    {
        int devices = cluster.TotalDevices;
        int[] degrees = [.. Enumerable.Range(1, devices).Where(d => devices % d == 0 && model.SupportsTensorParallel(d) && d <= cluster.DevicesPerNode)];
        int longest = Math.Min(config.max_positions - 4, workload.MaxTotalLength);
        // Doubling from well below the mean prompt (the planner looks attention up at a batch's RMS length and
        // contexts above it) up to the longest context.
        int first = 2;
        while (first * 2 <= Math.Min(16, workload.Input.Mean / 4)) first *= 2;
        var lengths = new List<int>();
        for (int s = first; ; s *= 2)
        {
            lengths.Add(Math.Min(s, longest));
            if (s >= longest) break;
        }
        // WAA's decoders run B_E × E[decode steps] rows (decoder-only: the prefill emits the first token).
        double meanSteps = Math.Max(1, workload.Output.Mean - 1);
        int decodeBatch = (int)Math.Ceiling(settings.MaxBatch * meanSteps);
        var batches = PowersOfTwo(decodeBatch);
        var prefill = PowersOfTwo(settings.MaxBatch);
        // Five repeats: with every rank busy, single points of three repeats moved by up to 20% between profiles.
        var grid = new ProfileGrid(batches, [.. lengths.Distinct()], Repeats: 5, PrefillBatches: prefill);
        return new ProfileRequest(config, settings.Model.Name, grid, Threads: settings.ThreadsPerDevice, Seed: settings.Seed,
            Ranks: devices, TensorParallel: degrees, Backend: settings.Engine.Kind, Dtype: settings.Engine.Dtype);
    }

    private static List<int> PowersOfTwo(int upTo)
    {
        var list = new List<int>();
        for (int b = 1; ; b *= 2)
        {
            list.Add(b);
            if (b >= upTo) break;
        }
        return list;
    }

    /// <summary>The task's lengths sampled with the seed; prompts are seeded random token ids (the engine's cost does
    /// not depend on them), and each query generates exactly its sampled output length (no end-of-sequence).</summary>
    public static IReadOnlyList<RunRequest> Requests(WorkloadSpec workload, int count, ulong seed, int vocab)
    {
        var random = new Random(unchecked((int)seed));
        return [.. WorkloadSampler.Sample(workload, count, seed).Select(q =>
        {
            int[] prompt = new int[Math.Max(1, q.InputLength)];
            for (int i = 0; i < prompt.Length; i++)
                prompt[i] = random.Next(4, vocab);
            return new RunRequest(prompt, Math.Max(1, q.OutputLength));
        })];
    }
}
