namespace ExeGPT.Core.Models;

/// <summary>Decoder-only models prefill (the paper's "encoding") on their decoder layers; encoder-decoder
/// models encode on separate encoder layers and decode with self- and cross-attention.</summary>
public enum ModelArchitecture
{
    /// <summary>GPT/OPT/LLaMA: one stack of decoder layers.</summary>
    DecoderOnly,
    /// <summary>T5: an encoder stack and a decoder stack with cross-attention.</summary>
    EncoderDecoder,
}

/// <summary>The shape of a transformer as far as planning needs it: FLOPs, bytes, memory and the
/// tensor-parallel constraints. No weights.</summary>
/// <param name="Name">Preset or user name, e.g. "opt-13b".</param>
/// <param name="Architecture">Decoder-only or encoder-decoder.</param>
/// <param name="EncoderLayers">0 for decoder-only models.</param>
/// <param name="DecoderLayers">Number of decoder layers.</param>
/// <param name="Hidden">Model (residual) width.</param>
/// <param name="Heads">Query heads; a tensor-parallel degree must divide it (and <paramref name="KvHeads"/>).</param>
/// <param name="KvHeads">Key/value heads (grouped-query attention); equal to Heads for multi-head attention.</param>
/// <param name="HeadDim">Per-head width; Heads × HeadDim need not equal Hidden (T5).</param>
/// <param name="FfnHidden">Inner FFN width.</param>
/// <param name="GatedFfn">Three FFN matrices (SwiGLU, T5 v1.1 gated-GELU) instead of two.</param>
/// <param name="Vocab">Vocabulary size (embedding and LM head).</param>
/// <param name="DtypeBytes">Bytes per weight and activation element (2 for fp16/bf16, 4 for fp32).</param>
/// <param name="MaxPositions">Longest input + output the model accepts.</param>
/// <param name="TiedEmbeddings">LM head shares the token embedding.</param>
public sealed record ModelSpec(
    string Name,
    ModelArchitecture Architecture,
    int EncoderLayers,
    int DecoderLayers,
    int Hidden,
    int Heads,
    int KvHeads,
    int HeadDim,
    int FfnHidden,
    bool GatedFfn,
    int Vocab,
    int DtypeBytes,
    int MaxPositions,
    bool TiedEmbeddings = true)
{
    /// <summary>Heads × HeadDim: width of Q and of the attention output.</summary>
    public long AttentionDim => (long)Heads * HeadDim;

    /// <summary>KvHeads × HeadDim: width of K and of V.</summary>
    public long KvDim => (long)KvHeads * HeadDim;

    /// <summary>Layers that run the prefill/encode pass: the encoder's, or the decoder's for decoder-only.</summary>
    public int PrefillLayers => Architecture == ModelArchitecture.EncoderDecoder ? EncoderLayers : DecoderLayers;

    /// <summary>Parameters of one self-attention block (QKV + output projection, biases ignored).</summary>
    public long SelfAttentionParams => (long)Hidden * (AttentionDim + 2 * KvDim) + AttentionDim * Hidden;

    /// <summary>Parameters of one FFN block.</summary>
    public long FfnParams => (GatedFfn ? 3L : 2L) * Hidden * FfnHidden;

    /// <summary>Parameters of one encoder layer (self-attention + FFN); 0 for decoder-only models.</summary>
    public long EncoderLayerParams => Architecture == ModelArchitecture.EncoderDecoder ? SelfAttentionParams + FfnParams : 0;

    /// <summary>Parameters of one decoder layer (+ cross-attention for encoder-decoder models).</summary>
    public long DecoderLayerParams => SelfAttentionParams + FfnParams
        + (Architecture == ModelArchitecture.EncoderDecoder ? SelfAttentionParams : 0);

    /// <summary>Token embedding plus, when untied, the LM head.</summary>
    public long EmbeddingParams => (long)Vocab * Hidden * (TiedEmbeddings ? 1 : 2);

    /// <summary>All parameters.</summary>
    public long TotalParams => EncoderLayers * EncoderLayerParams + DecoderLayers * DecoderLayerParams + EmbeddingParams;

    /// <summary>All weights in bytes at <see cref="DtypeBytes"/>.</summary>
    public long WeightBytes => TotalParams * DtypeBytes;

    /// <summary>Self-attention K+V bytes one token adds to one decoder layer's cache.</summary>
    public long KvBytesPerTokenPerLayer => 2 * KvDim * DtypeBytes;

    /// <summary>Throws <see cref="SpecException"/> naming the first inconsistent field.</summary>
    public void Validate()
    {
        void Positive(int value, string field)
        {
            if (value <= 0)
                throw new SpecException($"model '{Name}': {field} must be positive, got {value}");
        }
        if (string.IsNullOrWhiteSpace(Name))
            throw new SpecException("model: name is empty");
        Positive(DecoderLayers, nameof(DecoderLayers));
        Positive(Hidden, nameof(Hidden));
        Positive(Heads, nameof(Heads));
        Positive(KvHeads, nameof(KvHeads));
        Positive(HeadDim, nameof(HeadDim));
        Positive(FfnHidden, nameof(FfnHidden));
        Positive(Vocab, nameof(Vocab));
        Positive(MaxPositions, nameof(MaxPositions));
        if (DtypeBytes is not (1 or 2 or 4))
            throw new SpecException($"model '{Name}': dtype bytes must be 1, 2 or 4, got {DtypeBytes}");
        if (Heads % KvHeads != 0)
            throw new SpecException($"model '{Name}': {Heads} heads are not a multiple of {KvHeads} KV heads");
        if (Architecture == ModelArchitecture.EncoderDecoder)
            Positive(EncoderLayers, nameof(EncoderLayers));
        else if (EncoderLayers != 0)
            throw new SpecException($"model '{Name}': a decoder-only model has no encoder layers (got {EncoderLayers})");
    }

    /// <summary>Throws unless <paramref name="tp"/> is a usable tensor-parallel degree: positive and
    /// dividing both the query heads and the KV heads.</summary>
    public void RequireTensorParallel(int tp)
    {
        if (tp <= 0)
            throw new SpecException($"tensor-parallel degree must be positive, got {tp}");
        if (Heads % tp != 0 || KvHeads % tp != 0)
            throw new SpecException(
                $"tensor-parallel degree {tp} does not divide model '{Name}''s {Heads} heads / {KvHeads} KV heads");
    }

    /// <summary>True when <paramref name="tp"/> divides the heads and KV heads.</summary>
    public bool SupportsTensorParallel(int tp) => tp > 0 && Heads % tp == 0 && KvHeads % tp == 0;
}
