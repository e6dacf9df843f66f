using ExeGPT.Runner;
using ExeGPT.Runtime;
using ExeGPT.Simulator;

namespace ExeGPT.Tests.Runner;

/// <summary>Hand-built layouts of a 3-layer, 4-head model covering every runner path: pipelines, TP groups, partial
/// TP, and WAA encoders cut differently from the decoders (so the KV hand-off moves parts).</summary>
public static class RunnerLayouts
{
    public static readonly OptSpecLayers Model = new(Layers: 3, Heads: 4);

    public sealed record OptSpecLayers(int Layers, int Heads);

    public static IEnumerable<TestCaseData> All()
    {
        yield return Case("rra-1stage", new Schedule(Policy.Rra, 3, 2), [new(0, 1, 0, 3)]);
        yield return Case("rra-2stages", new Schedule(Policy.Rra, 4, 3), [new(0, 1, 0, 2), new(1, 1, 2, 3)]);
        yield return Case("rra-tp2", new Schedule(Policy.Rra, 3, 2, TpDegree: 2, TpGroups: 1), [new(0, 2, 0, 3)]);
        yield return Case("rra-partial-tp", new Schedule(Policy.Rra, 5, 2, TpDegree: 2, TpGroups: 1), [new(0, 2, 0, 2), new(2, 1, 2, 3)]);
        yield return Case("waa-1+1", new Schedule(Policy.WaaC, 3), [new(1, 1, 0, 3)], [new(0, 1, 0, 3)]);
        yield return Case("waa-2enc+2dec", new Schedule(Policy.WaaM, 4), [new(2, 1, 0, 1), new(3, 1, 1, 3)], [new(0, 1, 0, 2), new(1, 1, 2, 3)]);
        yield return Case("waa-tp2-decoder", new Schedule(Policy.WaaC, 2, TpDegree: 2, TpGroups: 1), [new(1, 2, 0, 3)], [new(0, 1, 0, 3)]);
        yield return Case("waa-micro-batches", new Schedule(Policy.WaaC, 2, MicroBatches: 2), [new(1, 1, 0, 2), new(2, 1, 2, 3)], [new(0, 1, 0, 3)]);
        yield return Case("static-2stages", new Schedule(Policy.Static, 4), [new(0, 1, 0, 2), new(1, 1, 2, 3)]);
        yield return Case("continuous-tp2", new Schedule(Policy.Continuous, 3), [new(0, 2, 0, 3)]);
    }

    private static TestCaseData Case(string name, Schedule schedule, StagePlan[] stages, StagePlan[]? encoders = null) =>
        new TestCaseData(new ExecutionLayout(schedule, stages, encoders ?? [])).SetArgDisplayNames(name);

    public static RunnerOptions Options(string checkpointDir) => new()
    {
        Model = ModelSource.FromCheckpoint(checkpointDir),
        ThreadsPerDevice = 1,
        CommTimeoutMs = 20000,
    };
}
