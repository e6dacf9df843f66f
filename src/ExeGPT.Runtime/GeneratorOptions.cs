using ExeGPT.Native.Interop;

namespace ExeGPT.Runtime;

/// <summary>How <see cref="HostGenerator"/> shards and runs a model.</summary>
public sealed record GeneratorOptions
{
    /// <summary>The model (see <see cref="ModelSource.Resolve"/>).</summary>
    public required ModelSource Model { get; init; }

    /// <summary>Seed of the random weights; ignored for checkpoints. The same seed gives the same
    /// full model for any sharding, so outputs do not depend on <see cref="TensorParallel"/> or
    /// <see cref="Stages"/>.</summary>
    public ulong Seed { get; init; }

    /// <summary>Tensor-parallel ranks per stage; must divide the head count and ffn_dim.</summary>
    public int TensorParallel { get; init; } = 1;

    /// <summary>Pipeline stages (contiguous layer ranges); at most the layer count.</summary>
    public int Stages { get; init; } = 1;

    /// <summary>CPU threads in total, split evenly over the TP ranks (which run concurrently);
    /// 0 or less means every core. Ignored on CUDA.</summary>
    public int Threads { get; init; }

    /// <summary>The engine backend: CPU, or CUDA with TP rank r on device r (its stages share the device).</summary>
    public exg_backend_kind Backend { get; init; } = exg_backend_kind.EXG_BACKEND_CPU;

    /// <summary>Storage dtype; null takes the backend's default (CPU: F32; CUDA: BF16).</summary>
    public exg_dtype? Dtype { get; init; }

    /// <summary>How long a collective waits for a peer before failing (0: the native default).</summary>
    public uint CommTimeoutMs { get; init; }
}
