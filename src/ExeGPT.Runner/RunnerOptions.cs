using ExeGPT.Native.Interop;
using ExeGPT.Runtime;
using ExeGPT.Simulator;

namespace ExeGPT.Runner;

/// <summary>How XRunner builds and drives a schedule's layout on CPU ranks or CUDA devices.</summary>
public sealed record RunnerOptions
{
    /// <summary>The model (a preset with seeded weights, or a checkpoint).</summary>
    public required ModelSource Model { get; init; }

    /// <summary>Seed of a preset's random weights.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Seed of the per-request sampling streams (request i samples from stream i).</summary>
    public ulong SamplingSeed { get; init; } = 1;

    /// <summary>CPU threads of each device (rank); 0: the machine's cores divided by the devices. Ignored on CUDA.</summary>
    public int ThreadsPerDevice { get; init; }

    /// <summary>The engine backend: CPU ranks, or CUDA with the layout's device d on device ordinal d.</summary>
    public exg_backend_kind Backend { get; init; } = exg_backend_kind.EXG_BACKEND_CPU;

    /// <summary>Storage dtype; null takes the backend's default (CPU: F32; CUDA: BF16).</summary>
    public exg_dtype? Dtype { get; init; }

    /// <summary>How long a collective waits for a peer before failing (0: the engine's default).</summary>
    public uint CommTimeoutMs { get; init; }

    /// <summary>Stop a request after it emits this token (null: only at its token budget).</summary>
    public int? EosTokenId { get; init; }

    /// <summary>The paper's dynamic workload adjustment (RRA and WAA).</summary>
    public AdjustmentOptions Adjustment { get; init; } = new();

    /// <summary>WAA: the most rows the decoders run at once (0: B_E × (mean decode steps + 1), the simulator's
    /// running batch plus one merging batch).</summary>
    public int DecodeCapacity { get; init; }
}

/// <summary>What a run did: every request's tokens and times, and the encoder batches.</summary>
/// <param name="Layout">The stages it ran on.</param>
/// <param name="Requests">Per request, in request order (times in seconds from the run's start).</param>
/// <param name="EncoderBatches">Per encoder batch: start time, queries and summed input length, in order.</param>
/// <param name="MeanDecodeBatch">Rows per decode step, averaged over steps.</param>
/// <param name="WallSeconds">The whole run.</param>
public sealed record RunResult(ExecutionLayout Layout, IReadOnlyList<RequestRecord> Requests,
    IReadOnlyList<EncoderBatchRecord> EncoderBatches, double MeanDecodeBatch, double WallSeconds);

/// <summary>One encoder batch: when it started (seconds from the run's start), its size and input tokens.</summary>
public readonly record struct EncoderBatchRecord(double Started, int Queries, int InputTokens);
