using ExeGPT.Native.Interop;

namespace ExeGPT.Native;

/// <summary>What <see cref="Model.Create"/> builds: a shard = a layer range (pipeline stage) x a tensor-parallel rank.</summary>
public sealed record ModelOptions
{
    public required exg_model_config Config { get; init; }

    /// <summary>A Hugging Face OPT checkpoint folder; null for seeded random weights.</summary>
    public string? CheckpointDir { get; init; }

    /// <summary>Random-init seed; the same seed gives the same full model under any sharding.</summary>
    public ulong Seed { get; init; }

    /// <summary>First layer of the shard.</summary>
    public int LayerBegin { get; init; }

    /// <summary>One past the last layer; null means through the last layer of the model.</summary>
    public int? LayerEnd { get; init; }

    public int TpRank { get; init; }

    /// <summary>Tensor-parallel ranks; heads and ffn_dim must divide by it.</summary>
    public int TpSize { get; init; } = 1;

    /// <summary>This rank's communicator; required when <see cref="TpSize"/> &gt; 1.</summary>
    public Comm? Comm { get; init; }
}
