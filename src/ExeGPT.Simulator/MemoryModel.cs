using ExeGPT.Core.Models;

namespace ExeGPT.Simulator;

/// <summary>Bytes one device of a stage holds. Weights are sharded 1/tp; embeddings sit on the first stage
/// and the LM head on the last (both when they differ, even if tied). KV-cache slots are allocated for the
/// longest input + output, as FasterTransformer does (no paging; the paper's runner has none), except for
/// the continuous-batching baseline, whose vLLM-style paging holds only live tokens.</summary>
internal static class MemoryModel
{
    public static long Weights(ModelSpec model, in Stage stage, bool first, bool last)
    {
        long layers = model.Architecture == ModelArchitecture.EncoderDecoder
            ? stage.PrefillLayers * model.EncoderLayerParams + stage.DecodeLayers * model.DecoderLayerParams
            : Math.Max(stage.PrefillLayers, stage.DecodeLayers) * model.DecoderLayerParams;
        long embeddings = (first ? 1L : 0L) + (last && (!first || !model.TiedEmbeddings) ? 1L : 0L);
        long parameters = layers + embeddings * model.Vocab * model.Hidden;
        return parameters * model.DtypeBytes / stage.Tp;
    }

    /// <summary>Self-attention (and, for encoder-decoder models, cross-attention) KV for
    /// <paramref name="slots"/> sequences of up to <paramref name="slotLength"/> tokens.</summary>
    public static long DecodeKv(ModelSpec model, in Stage stage, double slots, double slotLength, double inputLength) =>
        (long)(slots * SlotBytesPerLayer(model, slotLength, inputLength) * stage.DecodeLayers / stage.Tp);

    /// <summary>One slot's KV in one decoder layer: self-attention over <paramref name="slotLength"/> tokens, plus
    /// cross-attention over <paramref name="inputLength"/> encoder outputs for encoder-decoder models.</summary>
    public static double SlotBytesPerLayer(ModelSpec model, double slotLength, double inputLength) =>
        (double)model.KvBytesPerTokenPerLayer
        * (slotLength + (model.Architecture == ModelArchitecture.EncoderDecoder ? inputLength : 0));

    /// <summary>KV a prefill-only stage keeps for <paramref name="sequences"/> prompts until they are handed off.</summary>
    public static long PrefillKv(ModelSpec model, in Stage stage, double sequences, double inputLength) =>
        (long)(model.KvBytesPerTokenPerLayer * sequences * inputLength * stage.PrefillLayers / stage.Tp);

    /// <summary>Working set of one layer over <paramref name="tokens"/> tokens (layers reuse it), plus the
    /// fp32 logits of <paramref name="logitRows"/> rows on the last stage.</summary>
    public static long Activations(ModelSpec model, in Stage stage, double tokens, double logitRows, bool last)
    {
        double perToken = 4.0 * model.Hidden + (model.AttentionDim + 2.0 * model.KvDim) / stage.Tp
            + (model.GatedFfn ? 2.0 : 1.0) * model.FfnHidden / stage.Tp;
        double bytes = tokens * perToken * model.DtypeBytes;
        if (last)
            bytes += logitRows * model.Vocab / (double)stage.Tp * 4;
        return (long)bytes;
    }
}
