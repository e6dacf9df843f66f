namespace ExeGPT.Simulator;

/// <summary>Scheduling families: the paper's three policies and the two baselines.</summary>
public enum Policy
{
    /// <summary>Round-robin allocation: every device holds a slice of the layers and runs both phases;
    /// encode B_E queries, decode N_D iterations, repeat.</summary>
    Rra,
    /// <summary>Workload-aware allocation, devices split between encoding and decoding by compute.</summary>
    WaaC,
    /// <summary>Workload-aware allocation, devices split so every device uses the same memory.</summary>
    WaaM,
    /// <summary>FasterTransformer-style static batching: a batch runs until its longest member finishes.</summary>
    Static,
    /// <summary>Iteration-level continuous batching (ORCA / vLLM): one new prefill joins each decode step.</summary>
    Continuous,
}

/// <summary>One point of the schedule space: a policy and its control variables.</summary>
/// <param name="Policy">The family.</param>
/// <param name="EncoderBatch">B_E: queries per encoding (RRA, WAA); the batch size (Static); the maximum
/// decode batch (Continuous).</param>
/// <param name="DecodeIterations">N_D: decode iterations between encodings (RRA only; 0 elsewhere).</param>
/// <param name="TpDegree">d: tensor-parallel degree of the TP groups (1: none).</param>
/// <param name="TpGroups">k: how many pipeline stages are TP groups of d devices (partial tensor
/// parallelism); the other devices are single-device stages. RRA: among all devices; WAA: among the
/// decoder devices. Static/Continuous use the FT layout (maximum TP inside a node) and ignore it.</param>
/// <param name="MicroBatches">Decoder micro-batches (WAA; 0 = one per decoder pipeline stage).</param>
/// <param name="Devices">Devices used, numbered node by node from 0 (0 = the whole cluster).</param>
public sealed record Schedule(
    Policy Policy,
    int EncoderBatch,
    int DecodeIterations = 0,
    int TpDegree = 1,
    int TpGroups = 0,
    int MicroBatches = 0,
    int Devices = 0)
{
    /// <inheritdoc/>
    public override string ToString() => Policy switch
    {
        Policy.Rra => $"RRA B_E={EncoderBatch} N_D={DecodeIterations} TP={TpDegree}x{TpGroups}",
        Policy.WaaC or Policy.WaaM => $"{PolicyNames.Name(Policy)} B_E={EncoderBatch} TP={TpDegree}x{TpGroups} micro-batches={MicroBatches}",
        Policy.Static => $"static B={EncoderBatch}",
        _ => $"continuous B_max={EncoderBatch}",
    };
}

/// <summary>Command-line and JSON names of the policies.</summary>
public static class PolicyNames
{
    /// <summary>"rra", "waa-c", "waa-m", "static", "continuous".</summary>
    public static string Name(Policy policy) => policy switch
    {
        Policy.Rra => "rra",
        Policy.WaaC => "waa-c",
        Policy.WaaM => "waa-m",
        Policy.Static => "static",
        Policy.Continuous => "continuous",
        _ => throw new ArgumentOutOfRangeException(nameof(policy)),
    };

    /// <summary>Parses a name (case-insensitive); throws <see cref="Core.SpecException"/> listing the names.</summary>
    public static Policy Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "rra" => Policy.Rra,
        "waa-c" or "waac" => Policy.WaaC,
        "waa-m" or "waam" => Policy.WaaM,
        "static" or "ft" => Policy.Static,
        "continuous" or "orca" => Policy.Continuous,
        _ => throw new Core.SpecException($"unknown policy '{name}' (expected rra, waa-c, waa-m, static or continuous)"),
    };
}
