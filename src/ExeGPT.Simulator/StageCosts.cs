using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Simulator;

/// <summary>Per-stage times composed from the per-layer profile: layers × (attention + rest + all-reduces),
/// plus the LM head on the last stage and the activation send to the next stage. Tensor-parallel
/// layers all-reduce twice (attention output, FFN output), encoder-decoder decoder layers three times
/// (cross-attention too) — the paper's §2 counts.</summary>
internal readonly struct StageCosts
{
    private readonly ILayerProfile _profile;
    private readonly ModelSpec _model;
    private readonly double _headRatio;     // LM head parameters / one decoder layer's parameters
    private readonly int _decodeAllReduces;

    public StageCosts(SimulationContext ctx)
    {
        _profile = ctx.Profile;
        _model = ctx.Model;
        _headRatio = (double)_model.Vocab * _model.Hidden / _model.DecoderLayerParams;
        _decodeAllReduces = _model.Architecture == ModelArchitecture.EncoderDecoder ? 3 : 2;
    }

    private double ActivationBytes(double tokens) => tokens * _model.Hidden * _model.DtypeBytes;

    /// <summary>One prefill micro-batch of <paramref name="batch"/> sequences (attention at the RMS length
    /// <paramref name="seqRms"/>, <paramref name="tokens"/> tokens in all) through one stage.</summary>
    public double Prefill(in Stage stage, double batch, double seqRms, double tokens, bool lastStage)
    {
        if (stage.PrefillLayers == 0 || batch <= 0)
            return 0;
        int tp = stage.Tp;
        double time = stage.PrefillLayers * PrefillLayer(tp, batch, seqRms, tokens);
        // Decoder-only: the prefill's last stage also computes the first token's logits (one row per sequence).
        if (lastStage && _model.Architecture == ModelArchitecture.DecoderOnly)
            time += Head(tp, batch);
        return time + _profile.Send(stage.LinkToNext, lastStage ? 4 * batch : ActivationBytes(tokens));
    }

    /// <summary>One decode step of <paramref name="batch"/> sequences attending over
    /// <paramref name="context"/> cached tokens (and <paramref name="encoderLength"/> encoder outputs).</summary>
    public double Decode(in Stage stage, double batch, double context, double encoderLength, bool lastStage)
    {
        if (stage.DecodeLayers == 0 || batch <= 0)
            return 0;
        int tp = stage.Tp;
        // Below one sequence the expected-value model charges a fraction of a single sequence's step.
        double scale = batch < 1 ? batch : 1, b = Math.Max(1, batch);
        double time = stage.DecodeLayers * DecodeLayer(tp, b, context, encoderLength);
        if (lastStage)
            time += Head(tp, b);
        return scale * (time + _profile.Send(stage.LinkToNext, lastStage ? 4 * b : ActivationBytes(b)));
    }

    /// <summary>The last stage's work outside the layers: measured when the profile has it (an engine may not split
    /// the LM head over TP ranks, and logits and sampling cost too), else the LM head as a GEMM like the layer's rest
    /// scaled by its share of parameters.</summary>
    private double Head(int tp, double tokens)
    {
        double measured = _profile.Head(tp, Math.Max(1, tokens));
        return double.IsNaN(measured) ? _headRatio * _profile.DecodeRest(tp, Math.Max(1, tokens)) : measured;
    }

    /// <summary>One decode step of one decoder layer at degree <paramref name="tp"/> (also how fast a stage of
    /// that degree is per layer, for splitting layers in proportion to speed).</summary>
    public double DecodeLayer(int tp, double batch, double context, double encoderLength)
    {
        double b = Math.Max(1, batch);
        double time = _profile.DecodeAttention(tp, b, context) + _profile.DecodeRest(tp, b)
            + _decodeAllReduces * _profile.AllReduce(tp, ActivationBytes(b));
        if (_model.Architecture == ModelArchitecture.EncoderDecoder)
            time += _profile.CrossAttention(tp, b, encoderLength);
        return time;
    }

    /// <summary>One prefill layer at degree <paramref name="tp"/> (speed for layer splitting).</summary>
    public double PrefillLayer(int tp, double batch, double seqRms, double tokens) =>
        _profile.PrefillAttention(tp, batch, seqRms) + _profile.PrefillRest(tp, tokens)
        + 2 * _profile.AllReduce(tp, ActivationBytes(tokens));
}
