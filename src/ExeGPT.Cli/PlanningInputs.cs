using System.CommandLine;
using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Simulator;

namespace ExeGPT.Cli;

/// <summary>What the planning commands resolved their options to.</summary>
/// <param name="Model">The model's shape.</param>
/// <param name="Cluster">The cluster.</param>
/// <param name="Workload">The length distributions.</param>
/// <param name="Profile">Per-layer times.</param>
/// <param name="Context">The simulation context over them.</param>
internal sealed record Planning(ModelSpec Model, ClusterSpec Cluster, WorkloadSpec Workload, ILayerProfile Profile,
    SimulationContext Context);

/// <summary>The options every planning command shares (--model, --cluster, --task, --correlation, --profile)
/// and how they become a <see cref="SimulationContext"/>.</summary>
internal sealed class PlanningInputs
{
    public Option<string> Model { get; } = new("--model", "-m")
    {
        Description = "A model preset (e.g. gpt3-39b, opt-13b, t5-11b) or a Hugging Face checkpoint directory / config.json.",
        Required = true,
    };

    public Option<string> Cluster { get; } = new("--cluster", "-c")
    {
        Description = "A cluster: <a100|a40|h100|h200>x<N> (e.g. a40x16), cpu or cpux<N>.",
        Required = true,
    };

    public Option<string> Task { get; } = new("--task", "-t")
    {
        Description = "A task of the paper's Table 3 (S, T, G, C1, C2) or a trace file (.csv, .jsonl, .json) of input/output lengths.",
        Required = true,
    };

    public Option<double?> Correlation { get; } = new("--correlation")
    {
        Description = "Input/output length correlation in [-1, 1] for a task preset's sampled queries (default 0).",
    };

    public Option<string?> Profile { get; } = new("--profile")
    {
        Description = "A profile file (measured or analytic; format: src/ExeGPT.Core/Profiles/README.md); default: an analytic profile of the cluster's GPU.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Cluster);
        command.Options.Add(Task);
        command.Options.Add(Correlation);
        command.Options.Add(Profile);
    }

    /// <summary>Resolves the options; throws <see cref="SpecException"/> naming the bad one.</summary>
    public Planning Resolve(ParseResult parse, SimulationOptions? options = null)
    {
        ModelSpec model = ResolveModel(parse.GetValue(Model)!);
        ClusterSpec cluster = ClusterPresets.Get(parse.GetValue(Cluster)!);
        WorkloadSpec workload = WorkloadResolver.Resolve(parse.GetValue(Task)!);
        if (parse.GetValue(Correlation) is double r)
        {
            // A trace's rows are sampled as they are, so their own correlation is the one that holds.
            if (workload.Trace is not null)
                throw new SpecException($"--correlation applies to task presets; trace '{workload.Name}' carries its own (r = {PlanningText.Number(workload.Correlation, 2)})");
            workload = TaskPresets.WithCorrelation(workload, r);
        }
        ILayerProfile profile;
        if (parse.GetValue(Profile) is string path)
        {
            ProfileTables tables = ProfileJson.Read(path);
            // A measured profile says at which precision the engine ran (the CPU backend computes in FP32):
            // plan the model's memory at that precision rather than refusing the preset's FP16 default.
            if (tables.Metadata.Kind == ProfileKind.Measured)
                model = model with { DtypeBytes = tables.Metadata.Model.DtypeBytes };
            tables.RequireMatches(model);
            profile = tables;
        }
        else
            profile = AnalyticProfile.Build(model, cluster);
        return new Planning(model, cluster, workload, profile, new SimulationContext(model, cluster, workload, profile, options));
    }

    /// <summary>A preset, else an existing checkpoint directory or config.json; an unknown name lists the presets.</summary>
    private static ModelSpec ResolveModel(string name)
    {
        if (ModelPresets.TryGet(name, out ModelSpec? preset))
            return preset;
        if (Directory.Exists(name) || File.Exists(name))
            return HuggingFaceConfig.FromConfigFile(name);
        throw new SpecException(
            $"unknown model '{name}' (expected a preset: {string.Join(", ", ModelPresets.Names)}; or a Hugging Face checkpoint directory or config.json)");
    }
}
