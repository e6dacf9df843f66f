using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Scheduler;
using ExeGPT.Simulator;

namespace ExeGPT.Planning.Tests.Scheduler;

/// <summary>The scenario matrix of the scheduler tests: models × clusters × tasks × bounds, with bounds
/// derived from the static-batching baseline's own latencies (as the paper derives its bounds).</summary>
internal static class SchedulerScenarios
{
    private static readonly (string Model, string Cluster)[] Deployments =
    [
        ("opt-13b", "a40x4"),
        ("t5-11b", "a40x8"),
        ("opt-6.7b", "h100x2"),
        ("llama-2-13b", "a100x4"),
        ("gpt3-39b", "a40x16"),
    ];

    private static readonly string[] Tasks = ["S", "T", "G", "C1"];

    /// <summary>Bounds as multiples of the baseline's smallest-batch latency (1 = only tiny batches meet it).</summary>
    private static readonly double[] BoundFactors = [1.0, 2.5, double.PositiveInfinity];

    public static IEnumerable<TestCaseData> All()
    {
        foreach (var (model, cluster) in Deployments)
            foreach (string task in Tasks)
                foreach (double factor in BoundFactors)
                    yield return new TestCaseData(model, cluster, task, factor)
                        .SetName($"{model}@{cluster} task {task} bound x{factor}");
    }

    public static SimulationContext Context(string model, string cluster, string task)
    {
        ModelSpec m = ModelPresets.Get(model);
        ClusterSpec c = ClusterPresets.Get(cluster);
        return new SimulationContext(m, c, TaskPresets.Get(task), AnalyticProfile.Build(m, c));
    }

    /// <summary>The bound: <paramref name="factor"/> × the static baseline's latency at batch 1.</summary>
    public static double Bound(SimulationContext ctx, double factor) =>
        double.IsPositiveInfinity(factor) ? factor : factor * XSimulator.Simulate(ctx, new Schedule(Policy.Static, 1)).LatencyS;
}
