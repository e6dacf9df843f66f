namespace ExeGPT.Scheduler.Paper;

/// <summary>The two halves of the paper's evaluation.</summary>
public enum PaperGroup
{
    /// <summary>Small and mid-size models (§7.2, Fig. 6): tasks S, T, C1.</summary>
    SmallMid,
    /// <summary>Large models (§7.3, Fig. 8): tasks G, C1, C2.</summary>
    Large,
}

/// <summary>One model on one cluster, evaluated on some tasks.</summary>
/// <param name="Group">Which half of the evaluation it belongs to.</param>
/// <param name="Model">Model preset name.</param>
/// <param name="Cluster">Cluster preset name.</param>
/// <param name="Tasks">Task ids (Table 3).</param>
public sealed record PaperScenario(PaperGroup Group, string Model, string Cluster, IReadOnlyList<string> Tasks)
{
    /// <summary>"gpt3-39b@a40x16".</summary>
    public string Name => $"{Model}@{Cluster}";

    /// <summary>The paper's small/mid scenarios: T5 11B on 8 A40, OPT 13B on 4 A40, GPT-3 39B on 16 A40 and
    /// GPT-3 101B on 16 A100, each on tasks S, T and C1.</summary>
    public static IReadOnlyList<PaperScenario> SmallMid { get; } =
    [
        new(PaperGroup.SmallMid, "t5-11b", "a40x8", ["S", "T", "C1"]),
        new(PaperGroup.SmallMid, "opt-13b", "a40x4", ["S", "T", "C1"]),
        new(PaperGroup.SmallMid, "gpt3-39b", "a40x16", ["S", "T", "C1"]),
        new(PaperGroup.SmallMid, "gpt3-101b", "a100x16", ["S", "T", "C1"]),
    ];

    /// <summary>The paper's large scenarios: GPT-3 101B and 175B on 16 A100, GPT-3 175B on 32 A40 and
    /// GPT-3 341B on 48 A40, each on tasks G, C1 and C2.</summary>
    public static IReadOnlyList<PaperScenario> Large { get; } =
    [
        new(PaperGroup.Large, "gpt3-101b", "a100x16", ["G", "C1", "C2"]),
        new(PaperGroup.Large, "gpt3-175b", "a100x16", ["G", "C1", "C2"]),
        new(PaperGroup.Large, "gpt3-175b", "a40x32", ["G", "C1", "C2"]),
        new(PaperGroup.Large, "gpt3-341b", "a40x48", ["G", "C1", "C2"]),
    ];

    /// <summary>Every scenario of the evaluation: <see cref="SmallMid"/> then <see cref="Large"/>.</summary>
    public static IReadOnlyList<PaperScenario> All { get; } = [.. SmallMid, .. Large];
}

/// <summary>How the evaluation is run.</summary>
/// <param name="BoundFractions">The "bottom x%" of the FT latencies that become bounds (the paper: 10%, 30%,
/// 70%); an unbounded (∞) row is always added.</param>
/// <param name="StaticBatchStep">FT batch sizes swept: 1, then multiples of this (the paper: 4).</param>
/// <param name="StaticBatchCap">Largest FT batch swept, if memory allows that much.</param>
/// <param name="MaxBatch">Largest B_E the scheduler searches.</param>
/// <param name="MaxParallelism">Cells evaluated at once (-1: as many as the thread pool likes).</param>
public sealed record PaperOptions(IReadOnlyList<double>? BoundFractions = null, int StaticBatchStep = 4,
    int StaticBatchCap = 1024, int MaxBatch = 512, int MaxParallelism = -1)
{
    /// <summary>The paper's bottom 10%, 30% and 70%.</summary>
    public static IReadOnlyList<double> PaperFractions { get; } = [0.1, 0.3, 0.7];
}
