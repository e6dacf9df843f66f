using ExeGPT.Core;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Planning.Tests.Profiles;

/// <summary>Roofline numbers worked out by hand for <see cref="ProfileFixtures.Tiny"/> on the toy device
/// (1e12 FLOP/s, 1e11 B/s) with default options: GEMMs run at 0.7e12 FLOP/s, attention at 0.5e12 FLOP/s,
/// memory at 0.8e11 B/s, and every kernel adds 4 µs.</summary>
public sealed class AnalyticCostModelTests
{
    private static readonly AnalyticCostModel Tiny = new(ProfileFixtures.Tiny, ProfileFixtures.Toy());

    private static void AssertClose(double actual, double expected) =>
        Assert.That(actual, Is.EqualTo(expected).Within(1e-12).Percent);

    [Test]
    public void DecodeAttentionIsMemoryBound()
    {
        // b = 8, ctx = 100, attnDim 64, kvDim 32, 2 bytes.
        // FLOPs 4·8·100·64 = 204 800 → 204 800 / 5e11 = 0.4096 µs.
        // Bytes (K/V cache 2·8·100·32 = 51 200 + Q and O 2·8·64 = 1 024) · 2 = 104 448 → / 8e10 = 1.3056 µs.
        OpCost c = Tiny.DecodeAttention(1, 8, 100);
        Assert.That(c.Flops, Is.EqualTo(204_800));
        Assert.That(c.MemoryBytes, Is.EqualTo(104_448));
        Assert.That(c.Kernels, Is.EqualTo(1));
        AssertClose(c.Seconds, 1.3056e-6 + 4e-6);
    }

    [Test]
    public void CausalPrefillAttentionOnTwoDevicesIsComputeBound()
    {
        // b = 4, s = 128, d = 2. Causal FLOPs ½·4·4·128²·64 / 2 = 4 194 304 → / 5e11 = 8.388608 µs.
        // Bytes 4·128·(2·64 + 2·32)·2 / 2 = 98 304 → / 8e10 = 1.2288 µs.
        OpCost c = Tiny.PrefillAttention(2, 4, 128);
        Assert.That(c.Flops, Is.EqualTo(4_194_304));
        Assert.That(c.MemoryBytes, Is.EqualTo(98_304));
        AssertClose(c.Seconds, 8.388608e-6 + 4e-6);
    }

    [Test]
    public void EncoderAttentionOfEncoderDecoderModelIsFull()
    {
        // T5 twin (kvDim 64), b = 1, s = 100: FLOPs 4·100²·64 = 2 560 000 → 5.12 µs (no causal halving);
        // bytes 100·(2·64 + 2·64)·2 = 51 200 → 0.64 µs.
        var t5 = new AnalyticCostModel(ProfileFixtures.TinyT5, ProfileFixtures.Toy());
        OpCost c = t5.PrefillAttention(1, 1, 100);
        Assert.That(c.Flops, Is.EqualTo(2_560_000));
        AssertClose(c.Seconds, 5.12e-6 + 4e-6);
    }

    [Test]
    public void CrossAttentionReadsEncoderKeysAndValues()
    {
        // b = 2, encoder length 50, attnDim = kvDim = 64: FLOPs 4·2·50·64 = 25 600 → 0.0512 µs;
        // bytes (2·2·50·64 + 2·2·64)·2 = 26 112 → 0.3264 µs.
        var t5 = new AnalyticCostModel(ProfileFixtures.TinyT5, ProfileFixtures.Toy());
        OpCost c = t5.CrossAttention(1, 2, 50);
        Assert.That(c.MemoryBytes, Is.EqualTo(26_112));
        AssertClose(c.Seconds, 0.3264e-6 + 4e-6);
        Assert.That(() => Tiny.CrossAttention(1, 2, 50), Throws.TypeOf<SpecException>().With.Message.Contain("decoder-only"));
    }

    [Test]
    public void PrefillRestOfThousandTokensIsComputeBoundGemmsPlusElementwise()
    {
        // t = 1000, h = 64. GEMMs (t×k·k×n), all compute-bound at 7e11 FLOP/s:
        //   QKV 2·1000·64·128 = 16 384 000 (bytes (8 192 + 64 000 + 128 000)·2 = 400 384 → 5.0 µs < 23.4 µs)
        //   out 2·1000·64·64 = 8 192 000, FFN up and down 2·1000·64·256 = 32 768 000 each:
        //   90 112 000 FLOPs → 128.7314285714 µs.
        // Elementwise at 8e10 B/s: norms 2·(2·1000·64·2 = 256 000 B) → 6.4 µs; residual adds
        //   2·(3·1000·64·2 = 384 000 B) → 9.6 µs; activation 2·1000·256·2 = 1 024 000 B → 12.8 µs: 28.8 µs.
        // 9 kernels · 4 µs = 36 µs.
        OpCost c = Tiny.PrefillRest(1, 1000);
        Assert.That(c.Flops, Is.EqualTo(90_112_000));
        Assert.That(c.Kernels, Is.EqualTo(9));
        Assert.That(c.MemoryBytes, Is.EqualTo(400_384 + 264_192 + 2 * 672_768 + 2_304_000));
        AssertClose(c.Seconds, 90_112_000 / 7e11 + 28.8e-6 + 36e-6);
    }

    [Test]
    public void DecodeRestOfOneTokenReadsTheWeights()
    {
        // t = 1: every GEMM is memory-bound. Weights + in + out elements: QKV 8 192 + 64 + 128, out
        // 4 096 + 64 + 64, up 16 384 + 64 + 256, down 16 384 + 256 + 64 = 46 016 elements = 92 032 B;
        // elementwise 2·128 + 2·192 + 512 = 1 152 elements = 2 304 B. (92 032 + 2 304) / 8e10 = 1.1792 µs; + 9·4 µs.
        OpCost c = Tiny.DecodeRest(1, 1);
        Assert.That(c.MemoryBytes, Is.EqualTo(94_336));
        AssertClose(c.Seconds, 1.1792e-6 + 36e-6);
    }

    [Test]
    public void EncoderDecoderLayersAddCrossAttentionProjections()
    {
        ModelSpec t5 = ProfileFixtures.TinyT5;
        var encDec = new AnalyticCostModel(t5, ProfileFixtures.Toy());
        var twin = new AnalyticCostModel(t5 with { Architecture = ModelArchitecture.DecoderOnly, EncoderLayers = 0 }, ProfileFixtures.Toy());
        // Decode step, t = 1: cross Q (64×64) and output (64×64) projections, (4 096 + 64 + 64)·2 = 8 448 B each,
        // a norm (256 B) and a residual add (384 B): 17 536 B / 8e10 = 0.2192 µs, + 4 kernels · 4 µs.
        AssertClose(encDec.DecodeRest(1, 1).Seconds - twin.DecodeRest(1, 1).Seconds, 0.2192e-6 + 16e-6);
        // Encoder layer, t = 1000: the cross K/V projection (64 × 128) of the encoder output,
        // 16 384 000 FLOPs → 23.405714 µs compute-bound, + 1 kernel.
        AssertClose(encDec.PrefillRest(1, 1000).Seconds - twin.PrefillRest(1, 1000).Seconds, 16_384_000 / 7e11 + 4e-6);
    }

    [Test]
    public void GatedFfnAddsTheGateGemmAndAFusedActivation()
    {
        ModelSpec tiny = ProfileFixtures.Tiny;
        var gated = new AnalyticCostModel(tiny with { GatedFfn = true }, ProfileFixtures.Toy());
        // t = 1000: one more 64×256 GEMM (32 768 000 FLOPs, compute-bound) and the activation reads two inputs
        // (3·1000·256·2 = 1 536 000 B instead of 1 024 000 B: +6.4 µs); one more kernel.
        AssertClose(gated.PrefillRest(1, 1000).Seconds - Tiny.PrefillRest(1, 1000).Seconds, 32_768_000 / 7e11 + 6.4e-6 + 4e-6);
    }

    [Test]
    public void RingAllReduceAndAlphaBetaSends()
    {
        // Ring over 10 GB/s + 5 µs: d = 2: 2·½·1e6 / 1e10 + 2·5 µs = 110 µs; d = 4: 2·¾·1e6 / 1e10 + 6·5 µs = 180 µs.
        var fourHeads = new AnalyticCostModel(ProfileFixtures.TinyT5, ProfileFixtures.Toy());
        AssertClose(fourHeads.AllReduce(2, 1e6), 110e-6);
        AssertClose(fourHeads.AllReduce(4, 1e6), 180e-6);
        Assert.That(Tiny.AllReduce(1, 1e6), Is.Zero);
        AssertClose(Tiny.Send(LinkClass.IntraNode, 1e6), 5e-6 + 100e-6);
        AssertClose(Tiny.Send(LinkClass.InterNode, 1e6), 5e-6 + 200e-6);
        // Host-staged: device → host and host → device over 20 GB/s + 10 µs, each 10 + 50 µs.
        AssertClose(Tiny.Send(LinkClass.HostStaged, 1e6), 120e-6);
    }

    [Test]
    public void DegreesDivideHeadsAndKvHeadsWithinANode()
    {
        Assert.That(Tiny.TensorParallelDegrees, Is.EqualTo(new[] { 1, 2 }));             // 2 KV heads
        var six = ProfileFixtures.Tiny with { Heads = 6, KvHeads = 6 };
        Assert.That(new AnalyticCostModel(six, ProfileFixtures.Toy(8)).TensorParallelDegrees, Is.EqualTo(new[] { 1, 2, 3, 6 }));
        Assert.That(new AnalyticCostModel(six, ProfileFixtures.Toy(4)).TensorParallelDegrees, Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(() => Tiny.DecodeRest(4, 1), Throws.TypeOf<SpecException>());
    }

    [Test]
    public void BadOptionsAreRefused()
    {
        Assert.That(() => new AnalyticCostModel(ProfileFixtures.Tiny, ProfileFixtures.Toy(), new AnalyticOptions { MemoryEfficiency = 1.5 }),
            Throws.TypeOf<SpecException>().With.Message.Contain("MemoryEfficiency"));
        Assert.That(() => new AnalyticCostModel(ProfileFixtures.Tiny, ProfileFixtures.Toy(), new AnalyticOptions { LengthGridRatio = 1 }),
            Throws.TypeOf<SpecException>().With.Message.Contain("LengthGridRatio"));
    }
}
