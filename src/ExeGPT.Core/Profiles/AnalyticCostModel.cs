using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;

namespace ExeGPT.Core.Profiles;

/// <summary>Cost of one group of kernels: what the roofline charged and why.</summary>
/// <param name="Flops">Matrix-multiply FLOPs (elementwise ops are memory-bound and count none).</param>
/// <param name="MemoryBytes">Device-memory traffic: weights, activations and K/V reads.</param>
/// <param name="Kernels">Kernel launches.</param>
/// <param name="Seconds">Sum over the kernels of max(compute time, memory time) + launch overhead.</param>
public readonly record struct OpCost(double Flops, double MemoryBytes, int Kernels, double Seconds)
{
    /// <summary>Kernels run one after another.</summary>
    public static OpCost operator +(OpCost a, OpCost b) =>
        new(a.Flops + b.Flops, a.MemoryBytes + b.MemoryBytes, a.Kernels + b.Kernels, a.Seconds + b.Seconds);
}

/// <summary>The direct roofline formulas behind <see cref="AnalyticProfile"/>: the time of one layer's parts
/// on one device of a tensor-parallel group of degree tp (Megatron sharding: QKV and FFN-up split by
/// columns, output and FFN-down projections by rows, attention by heads; norms and residual adds are
/// replicated). Each kernel costs max(FLOPs / (peak × compute efficiency), bytes / (bandwidth × memory
/// efficiency)) + launch overhead. Attention is flash-style: no score matrix in memory.</summary>
public sealed class AnalyticCostModel
{
    private readonly ModelSpec _model;
    private readonly ClusterSpec _cluster;
    private readonly double _peak, _bandwidth, _dtype, _launch, _gemmEff, _attnEff, _memEff;

    /// <summary>Validates the model, cluster and options.</summary>
    /// <exception cref="SpecException">Naming the bad field.</exception>
    public AnalyticCostModel(ModelSpec model, ClusterSpec cluster, AnalyticOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cluster);
        model.Validate();
        cluster.Validate();
        Options = options ?? new AnalyticOptions();
        Options.Validate();
        _model = model;
        _cluster = cluster;
        _peak = cluster.Device.PeakFlops;
        _bandwidth = cluster.Device.MemoryBandwidth;
        _dtype = model.DtypeBytes;
        _launch = Options.LaunchOverheadSeconds;
        _gemmEff = Options.GemmComputeEfficiency;
        _attnEff = Options.AttentionComputeEfficiency;
        _memEff = Options.MemoryEfficiency;
        TensorParallelDegrees = Enumerable.Range(1, cluster.DevicesPerNode).Where(model.SupportsTensorParallel).ToArray();
    }

    /// <summary>The options in effect.</summary>
    public AnalyticOptions Options { get; }

    /// <summary>Degrees d ≤ devices per node that divide the heads and KV heads (tensor parallelism stays
    /// inside a node, as in the paper's FT setup).</summary>
    public IReadOnlyList<int> TensorParallelDegrees { get; }

    /// <summary>Prefill/encoder self-attention over <paramref name="batch"/> × <paramref name="seqLen"/>:
    /// 4·b·s²·attnDim FLOPs (QKᵀ and PV), halved for the causal mask of decoder-only models; reads Q, K, V
    /// and writes O once.</summary>
    public OpCost PrefillAttention(int tp, double batch, double seqLen)
    {
        double d = Degree(tp);
        double causal = _model.Architecture == ModelArchitecture.DecoderOnly ? 0.5 : 1.0;
        double flops = causal * 4 * batch * seqLen * seqLen * _model.AttentionDim / d;
        double bytes = batch * seqLen * (2.0 * _model.AttentionDim + 2.0 * _model.KvDim) * _dtype / d;
        return Attention(flops, bytes);
    }

    /// <summary>One decode step's self-attention: 4·b·ctx·attnDim FLOPs; reads the K/V cache
    /// (2·b·ctx·kvDim elements) and Q, writes O.</summary>
    public OpCost DecodeAttention(int tp, double batch, double context) => StepAttention(tp, batch, context);

    /// <summary>One decode step's cross-attention over <paramref name="encoderLength"/> encoder outputs (their
    /// K/V were projected during the encoder pass). Encoder-decoder models only.</summary>
    /// <exception cref="SpecException">The model is decoder-only.</exception>
    public OpCost CrossAttention(int tp, double batch, double encoderLength)
    {
        if (_model.Architecture != ModelArchitecture.EncoderDecoder)
            throw new SpecException($"model '{_model.Name}' is decoder-only and has no cross-attention");
        return StepAttention(tp, batch, encoderLength);
    }

    /// <summary>Rest of a prefill/encoder layer over <paramref name="tokens"/> tokens: QKV and output
    /// projections, the FFN, two norms, two residual adds and the activation. An encoder-decoder model's
    /// encoder layer also projects the encoder output to one decoder layer's cross-attention K/V (exact
    /// when the encoder and decoder have as many layers, as T5 does).</summary>
    public OpCost PrefillRest(int tp, double tokens)
    {
        double d = Degree(tp);
        OpCost cost = LayerCore(tokens, d);
        if (_model.Architecture == ModelArchitecture.EncoderDecoder)
            cost += Gemm(tokens, _model.Hidden, 2.0 * _model.KvDim / d);
        return cost;
    }

    /// <summary>Rest of a decoder layer for one decode step of <paramref name="tokens"/> sequences; for
    /// encoder-decoder models also the cross-attention Q and output projections, a third norm and residual.</summary>
    public OpCost DecodeRest(int tp, double tokens)
    {
        double d = Degree(tp);
        OpCost cost = LayerCore(tokens, d);
        if (_model.Architecture == ModelArchitecture.EncoderDecoder)
            cost += Gemm(tokens, _model.Hidden, _model.AttentionDim / d)
                + Gemm(tokens, _model.AttentionDim / d, _model.Hidden)
                + Elementwise(2 * tokens * _model.Hidden)   // norm: read + write
                + Elementwise(3 * tokens * _model.Hidden);  // residual add: two reads + write
        return cost;
    }

    /// <summary>Ring all-reduce over the intra-node link: 2(d−1)/d · bytes / bandwidth + 2(d−1) · latency;
    /// 0 for d = 1.</summary>
    public double AllReduce(int tp, double bytes)
    {
        double d = Degree(tp);
        LinkSpec link = _cluster.IntraNode;
        return 2 * (d - 1) / d * bytes / link.Bandwidth + 2 * (d - 1) * link.Latency;
    }

    /// <summary>Alpha-beta time of one message; host-staged is device → host plus host → device over the host link.</summary>
    public double Send(LinkClass link, double bytes) => link switch
    {
        LinkClass.IntraNode => _cluster.IntraNode.TransferSeconds(bytes),
        LinkClass.InterNode => _cluster.InterNode.TransferSeconds(bytes),
        LinkClass.HostStaged => 2 * _cluster.HostLink.TransferSeconds(bytes),
        _ => throw new ArgumentOutOfRangeException(nameof(link), link, "unknown link class"),
    };

    private OpCost StepAttention(int tp, double batch, double context)
    {
        double d = Degree(tp);
        double flops = 4 * batch * context * _model.AttentionDim / d;
        double bytes = (2 * batch * context * _model.KvDim + 2 * batch * _model.AttentionDim) * _dtype / d;
        return Attention(flops, bytes);
    }

    /// <summary>Self-attention projections, FFN, 2 norms, 2 residual adds, activation.</summary>
    private OpCost LayerCore(double t, double d)
    {
        double h = _model.Hidden, ffn = _model.FfnHidden / d;
        OpCost cost = Gemm(t, h, (_model.AttentionDim + 2.0 * _model.KvDim) / d)   // QKV, column-parallel
            + Gemm(t, _model.AttentionDim / d, h)                                 // output, row-parallel
            + Gemm(t, h, ffn)                                                     // FFN up
            + Gemm(t, ffn, h)                                                     // FFN down
            + Elementwise(2 * t * h) + Elementwise(2 * t * h)                     // two norms
            + Elementwise(3 * t * h) + Elementwise(3 * t * h);                    // two residual adds
        if (_model.GatedFfn)
            cost += Gemm(t, h, ffn) + Elementwise(3 * t * ffn);                   // gate GEMM; act(gate)·up
        else
            cost += Elementwise(2 * t * ffn);                                     // act(up)
        return cost;
    }

    /// <summary>(t × k) · (k × n): 2tkn FLOPs; reads weights and input, writes output.</summary>
    private OpCost Gemm(double t, double k, double n)
    {
        double flops = 2 * t * k * n;
        double bytes = (k * n + t * k + t * n) * _dtype;
        return new(flops, bytes, 1, Math.Max(flops / (_peak * _gemmEff), bytes / (_bandwidth * _memEff)) + _launch);
    }

    private OpCost Attention(double flops, double bytes) =>
        new(flops, bytes, 1, Math.Max(flops / (_peak * _attnEff), bytes / (_bandwidth * _memEff)) + _launch);

    /// <summary>A memory-bound kernel touching <paramref name="elements"/> elements.</summary>
    private OpCost Elementwise(double elements)
    {
        double bytes = elements * _dtype;
        return new(0, bytes, 1, bytes / (_bandwidth * _memEff) + _launch);
    }

    private double Degree(int tp)
    {
        _model.RequireTensorParallel(tp);
        return tp;
    }
}
