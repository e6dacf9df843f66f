using ExeGPT.Runner;
using ExeGPT.Runtime;
using ExeGPT.Simulator;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Runner;

/// <summary>Hand-built layouts of a 3-layer, 4-head model covering every runner path: pipelines, TP groups, partial
/// TP, and WAA encoders cut differently from the decoders (so the KV hand-off moves parts).</summary>
public static class RunnerLayouts
{
    public static readonly OptSpecLayers Model = new(Layers: 3, Heads: 4);

    public sealed record OptSpecLayers(int Layers, int Heads);

    /// <summary>Ragged prompts and budgets: queries finish at different steps (early termination, compaction, padding).</summary>
    public static readonly int[] PromptLengths = [5, 1, 11, 3, 7, 2, 9, 4, 6, 8, 3, 10];

    public static readonly int[] Budgets = [6, 1, 3, 9, 2, 7, 5, 8, 1, 4, 6, 2];

    /// <summary>A seeded checkpoint of <see cref="Model"/>'s shape.</summary>
    public static TinyOptCheckpoint Checkpoint(int seed) =>
        TinyOptCheckpoint.Create(new OptSpec { NumLayers = Model.Layers, NumHeads = Model.Heads }, seed: seed);

    /// <summary>(prompt, budget) of each ragged query, prompts drawn from <paramref name="tokenSeed"/> on.</summary>
    public static IEnumerable<(int[] Prompt, int Budget)> RaggedQueries(int vocab, int tokenSeed) =>
        PromptLengths.Select((n, i) => (ExeGPT.Tests.Support.Run.Tokens(n, vocab, tokenSeed + i), Budgets[i]));

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
