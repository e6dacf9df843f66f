using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Simulator;

namespace ExeGPT.Planning.Tests.Simulator;

/// <summary>Small specs whose numbers are easy to follow by hand. Milliseconds are written as <c>Ms</c>.</summary>
internal static class HandSpecs
{
    public const double Ms = 1e-3;

    /// <summary>Decoder-only: one layer has 64·(64+128) + 64·64 = 16384 attention and 2·64·256 = 32768 FFN
    /// parameters (49152 in all); the vocabulary 768 makes the LM head 768·64 = 49152 parameters too, so the
    /// head costs exactly one layer's decode "rest" (head ratio 1). KV: 2·64·2 = 256 bytes per token per layer;
    /// one activation row is 64·2 = 128 bytes.</summary>
    public static ModelSpec Model(int layers = 2) => new("hand", ModelArchitecture.DecoderOnly, EncoderLayers: 0,
        DecoderLayers: layers, Hidden: 64, Heads: 4, KvHeads: 4, HeadDim: 16, FfnHidden: 256, GatedFfn: false,
        Vocab: 768, DtypeBytes: 2, MaxPositions: 4096);

    /// <summary>Encoder-decoder twin: a decoder layer adds cross-attention (65536 parameters), so vocabulary 1024
    /// keeps the head ratio at 1024·64 / 65536 = 1.</summary>
    public static ModelSpec T5Model(int layers = 2) => new("hand-t5", ModelArchitecture.EncoderDecoder, EncoderLayers: layers,
        DecoderLayers: layers, Hidden: 64, Heads: 4, KvHeads: 4, HeadDim: 16, FfnHidden: 256, GatedFfn: false,
        Vocab: 1024, DtypeBytes: 2, MaxPositions: 4096);

    /// <summary><paramref name="nodes"/> × <paramref name="perNode"/> devices of <paramref name="memoryBytes"/>
    /// (90% usable). Peak numbers are unused: the hand profile sets every time.</summary>
    public static ClusterSpec Cluster(int perNode, int nodes = 1, long memoryBytes = 1L << 30) => new("hand",
        new DeviceSpec("hand-device", memoryBytes, PeakFlops: 1e12, MemoryBandwidth: 1e11),
        nodes, perNode,
        new LinkSpec("hand-intra", 1e10, 1e-6), new LinkSpec("hand-inter", 1e9, 1e-6), new LinkSpec("hand-host", 1e10, 1e-6));

    /// <summary>Every query has the same lengths.</summary>
    public static WorkloadSpec Fixed(int input, int output) =>
        new("fixed", Single("input", input), Single("output", output));

    /// <summary>Input fixed, output lengths from a hand pmf.</summary>
    public static WorkloadSpec Pmf(int input, params (int Length, double P)[] output)
    {
        int min = output.Min(o => o.Length), max = output.Max(o => o.Length);
        double[] weights = new double[max - min + 1];
        foreach (var (length, p) in output) weights[length - min] = p;
        return new WorkloadSpec("pmf", Single("input", input), new LengthDistribution("hand output", min, weights));
    }

    private static LengthDistribution Single(string what, int length) => new($"hand {what}", length, [1.0]);

    public static SimulationContext Context(ModelSpec model, ClusterSpec cluster, WorkloadSpec workload, ILayerProfile profile,
        SimulationOptions? options = null) => new(model, cluster, workload, profile, options);
}
