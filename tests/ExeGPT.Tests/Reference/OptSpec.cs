namespace ExeGPT.Tests.Reference;

/// <summary>
/// The shape of a Hugging Face OPT model in HF's own terms (OPTConfig field meanings). The test-side
/// checkpoint writer and the reference model both read it; the engine only ever sees the config.json
/// written from it, so a misread field on the engine side shows up as a parity failure.
/// </summary>
public sealed record OptSpec
{
    public int VocabSize { get; init; } = 97;
    public int HiddenSize { get; init; } = 32;
    public int NumLayers { get; init; } = 2;
    public int NumHeads { get; init; } = 4;
    public int FfnDim { get; init; } = 64;
    public int MaxPositions { get; init; } = 64;

    /// <summary>Token-embedding width; null means the same as <see cref="HiddenSize"/>.</summary>
    public int? WordEmbedProjDim { get; init; }

    /// <summary>do_layer_norm_before: true is pre-LN (OPT-125m and most), false is post-LN (OPT-350m).</summary>
    public bool PreLayerNorm { get; init; } = true;

    /// <summary>HF activation_function: "relu", "gelu" (exact, erf) or "gelu_new" (tanh approximation).</summary>
    public string Activation { get; init; } = "relu";

    public bool EnableBias { get; init; } = true;
    public bool LayerNormAffine { get; init; } = true;
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>OPT's learned position table has two extra rows before position 0.</summary>
    public const int PositionOffset = 2;

    /// <summary>OPT hard-codes this LayerNorm epsilon.</summary>
    public const double LayerNormEps = 1e-5;

    public int ProjDim => WordEmbedProjDim ?? HiddenSize;
    public bool HasProjections => ProjDim != HiddenSize;

    /// <summary>HF OPTDecoder keeps a final LayerNorm only for pre-LN models.</summary>
    public bool HasFinalLayerNorm => PreLayerNorm;

    public int HeadDim => HiddenSize / NumHeads;
}
