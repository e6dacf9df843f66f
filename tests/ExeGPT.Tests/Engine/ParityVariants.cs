using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Engine;

/// <summary>The tiny OPT shapes every parity test runs over: each varies one architectural switch.</summary>
public static class ParityVariants
{
    public static IEnumerable<TestCaseData> All()
    {
        var baseline = new OptSpec();
        yield return Case("relu, pre-LN, tied, F32", baseline, CheckpointDtype.F32);
        yield return Case("gelu (erf)", baseline with { Activation = "gelu" }, CheckpointDtype.F32);
        yield return Case("gelu_new (tanh)", baseline with { Activation = "gelu_new" }, CheckpointDtype.F32);
        yield return Case("post-LN", baseline with { PreLayerNorm = false }, CheckpointDtype.F32);
        yield return Case("word_embed_proj_dim 16, pre-LN", baseline with { WordEmbedProjDim = 16 }, CheckpointDtype.F32);
        yield return Case("opt-350m-like: post-LN + proj 16", baseline with { PreLayerNorm = false, WordEmbedProjDim = 16 }, CheckpointDtype.F32);
        yield return Case("untied lm_head", baseline with { TieWordEmbeddings = false }, CheckpointDtype.F32);
        yield return Case("untied lm_head + proj 24", baseline with { TieWordEmbeddings = false, WordEmbedProjDim = 24 }, CheckpointDtype.F32);
        yield return Case("no bias, no LayerNorm affine", baseline with { EnableBias = false, LayerNormAffine = false }, CheckpointDtype.F32);
        yield return Case("3 layers, 8 heads", baseline with { NumLayers = 3, NumHeads = 8 }, CheckpointDtype.F32);
        yield return Case("F16 checkpoint", baseline, CheckpointDtype.F16);
        yield return Case("BF16 checkpoint", baseline, CheckpointDtype.BF16);
        yield return Case("BF16 gelu post-LN proj", baseline with { Activation = "gelu", PreLayerNorm = false, WordEmbedProjDim = 16 }, CheckpointDtype.BF16);
        yield return Case("F16 gelu_new untied", baseline with { Activation = "gelu_new", TieWordEmbeddings = false }, CheckpointDtype.F16);
    }

    private static TestCaseData Case(string name, OptSpec spec, CheckpointDtype dtype) =>
        new TestCaseData(spec, dtype).SetArgDisplayNames(name);
}
