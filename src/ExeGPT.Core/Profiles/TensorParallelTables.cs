namespace ExeGPT.Core.Profiles;

/// <summary>The layer tables of one tensor-parallel degree. "Encoder" is the paper's encoding pass: the T5
/// encoder layer, or the prefill of a decoder-only model's decoder layer.</summary>
public sealed class TensorParallelTables
{
    /// <summary>Table names as they appear in files and error messages.</summary>
    public const string EncoderAttentionName = "encoder.attention", EncoderRestName = "encoder.rest",
        DecoderAttentionName = "decoder.attention", CrossAttentionName = "decoder.cross_attention",
        DecoderRestName = "decoder.rest", HeadName = "decoder.head";

    /// <summary>Checks that each table carries its expected name and this degree.</summary>
    /// <param name="tensorParallel">The TP degree (positive).</param>
    /// <param name="encoderAttention">batch × seq_len.</param>
    /// <param name="encoderRest">tokens.</param>
    /// <param name="decoderAttention">batch × context.</param>
    /// <param name="crossAttention">batch × encoder_len; null for decoder-only models.</param>
    /// <param name="decoderRest">tokens.</param>
    /// <param name="head">Optional: what one step costs outside the layers on the last stage (LM head, logits out,
    /// sampling) over rows; without it the planner scales the decoder rest by the head's share of parameters.</param>
    /// <exception cref="SpecException">A table is misnamed or made for another degree.</exception>
    public TensorParallelTables(int tensorParallel, ProfileTable2D encoderAttention, ProfileTable1D encoderRest,
        ProfileTable2D decoderAttention, ProfileTable2D? crossAttention, ProfileTable1D decoderRest, ProfileTable1D? head = null)
    {
        if (tensorParallel <= 0)
            throw new SpecException($"profile: tensor-parallel degree must be positive, got {tensorParallel}");
        TensorParallel = tensorParallel;
        EncoderAttention = Check(encoderAttention, EncoderAttentionName);
        EncoderRest = Check(encoderRest, EncoderRestName);
        DecoderAttention = Check(decoderAttention, DecoderAttentionName);
        CrossAttention = crossAttention is null ? null : Check(crossAttention, CrossAttentionName);
        DecoderRest = Check(decoderRest, DecoderRestName);
        Head = head is null ? null : Check(head, HeadName);
    }

    /// <summary>The TP degree.</summary>
    public int TensorParallel { get; }

    /// <summary>Encoder/prefill self-attention: batch × seq_len.</summary>
    public ProfileTable2D EncoderAttention { get; }

    /// <summary>Rest of an encoder/prefill layer: tokens.</summary>
    public ProfileTable1D EncoderRest { get; }

    /// <summary>Decode self-attention: batch × context.</summary>
    public ProfileTable2D DecoderAttention { get; }

    /// <summary>Decode cross-attention: batch × encoder_len; null for decoder-only models.</summary>
    public ProfileTable2D? CrossAttention { get; }

    /// <summary>Rest of a decoder layer for one step: tokens.</summary>
    public ProfileTable1D DecoderRest { get; }

    /// <summary>The last stage's work outside the layers per step (LM head, logits, sampling): rows; optional.</summary>
    public ProfileTable1D? Head { get; }

    private ProfileTable1D Check(ProfileTable1D? table, string name)
    {
        Check(table?.Name, table?.TensorParallel, name);
        return table!;
    }

    private ProfileTable2D Check(ProfileTable2D? table, string name)
    {
        Check(table?.Name, table?.TensorParallel, name);
        return table!;
    }

    private void Check(string? actualName, int? actualTp, string name)
    {
        if (actualName is null)
            throw new SpecException($"profile: table {name} (tp={TensorParallel}) is missing");
        if (actualName != name || actualTp != TensorParallel)
            throw new SpecException(
                $"profile: the {name} slot of tp={TensorParallel} holds table {actualName} (tp={actualTp?.ToString() ?? "none"})");
    }
}
