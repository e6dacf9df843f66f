namespace ExeGPT.Core.Profiles;

/// <summary>How a point-to-point message travels between pipeline stages.</summary>
public enum LinkClass
{
    /// <summary>Between devices of one node (NVLink, PCIe peer, shared memory).</summary>
    IntraNode,
    /// <summary>Between nodes (InfiniBand).</summary>
    InterNode,
    /// <summary>Device → pinned host buffer → device: the WAA KV-cache hand-off.</summary>
    HostStaged,
}

/// <summary>Per-layer execution times the simulator composes into a timeline: the paper's XProfiler
/// tables. All times are seconds for ONE layer on ONE tensor-parallel group of degree <c>tp</c>
/// (each rank holding 1/tp of the heads and FFN columns), excluding the all-reduces, which are queried
/// separately. Batch, length and token arguments may be fractional (expected values); values between
/// grid points are interpolated, and a query outside the grid throws <see cref="ProfileRangeException"/>.</summary>
public interface ILayerProfile
{
    /// <summary>Where the numbers come from ("analytic A40-48GB", "measured cpu ...").</summary>
    string Description { get; }

    /// <summary>Tensor-parallel degrees the tables cover.</summary>
    IReadOnlyList<int> TensorParallelDegrees { get; }

    /// <summary>Prefill/encoder self-attention of <paramref name="batch"/> sequences of
    /// <paramref name="seqLen"/> tokens each (causal for decoder-only models).</summary>
    double PrefillAttention(int tp, double batch, double seqLen);

    /// <summary>The rest of a prefill/encoder layer (projections, FFN, norms) over
    /// <paramref name="tokens"/> tokens in total.</summary>
    double PrefillRest(int tp, double tokens);

    /// <summary>One decode step's self-attention for <paramref name="batch"/> sequences whose KV caches
    /// hold <paramref name="context"/> tokens each.</summary>
    double DecodeAttention(int tp, double batch, double context);

    /// <summary>One decode step's cross-attention over encoder outputs of <paramref name="encoderLength"/>
    /// tokens (encoder-decoder models only; throws for decoder-only profiles).</summary>
    double CrossAttention(int tp, double batch, double encoderLength);

    /// <summary>The rest of a decoder layer for one decode step of <paramref name="tokens"/> sequences.</summary>
    double DecodeRest(int tp, double tokens);

    /// <summary>What the last stage spends outside the layers for one step producing <paramref name="rows"/> tokens
    /// (LM head, logits, sampling), when the profile measured it; NaN otherwise (the planner then estimates it).</summary>
    double Head(int tp, double rows) => double.NaN;

    /// <summary>One all-reduce of <paramref name="bytes"/> over a tensor-parallel group of degree
    /// <paramref name="tp"/> inside a node (0 for tp = 1).</summary>
    double AllReduce(int tp, double bytes);

    /// <summary>One point-to-point transfer of <paramref name="bytes"/>.</summary>
    double Send(LinkClass link, double bytes);
}

/// <summary>A profile query outside the measured/generated grid: planning refuses to extrapolate.</summary>
public sealed class ProfileRangeException(string message) : Exception(message);
