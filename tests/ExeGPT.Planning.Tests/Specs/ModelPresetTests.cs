using ExeGPT.Core;
using ExeGPT.Core.Models;

namespace ExeGPT.Planning.Tests.Specs;

public class ModelPresetTests
{
    // Published parameter counts: OPT paper (13B: 12.85e9 in the HF checkpoint), GPT-3 paper (174.6e9),
    // LLaMA paper / checkpoint (6.74e9), T5 paper (11.3e9). Biases, norms and position tables are not
    // counted by ModelSpec, hence the tolerances.
    [TestCase("opt-13b", 12.85e9, 0.01)]
    [TestCase("gpt3-175b", 174.6e9, 0.01)]
    [TestCase("llama-7b", 6.74e9, 0.02)]
    [TestCase("t5-11b", 11.3e9, 0.02)]
    [TestCase("llama-2-70b", 68.98e9, 0.01)]
    [TestCase("llama-3-8b", 8.03e9, 0.01)]
    [TestCase("opt-175b", 175e9, 0.01)]
    [TestCase("t5-small", 60.5e6, 0.02)]
    public void ParameterCountMatchesPublishedSize(string name, double published, double tolerance)
    {
        ModelSpec model = ModelPresets.Get(name);
        Assert.That(model.TotalParams, Is.EqualTo(published).Within(tolerance * published));
    }

    [Test]
    public void Gpt3_175b_CountedByHand()
    {
        // 96 layers x 12 h² + vocab x h (tied) with h = 12288: the classic 174.56e9.
        const long h = 12288;
        long expected = 96 * 12 * h * h + 50257 * h;
        Assert.That(ModelPresets.Get("gpt3-175b").TotalParams, Is.EqualTo(expected));
    }

    [Test]
    public void PaperTable1Shapes()
    {
        ModelSpec t5 = ModelPresets.Get("t5-11b");
        Assert.Multiple(() =>
        {
            Assert.That(t5.Architecture, Is.EqualTo(ModelArchitecture.EncoderDecoder));
            Assert.That(t5.EncoderLayers + t5.DecoderLayers, Is.EqualTo(48));
            Assert.That((t5.Hidden, t5.Heads, t5.HeadDim, t5.FfnHidden, t5.Vocab, t5.GatedFfn), Is.EqualTo((1024, 128, 128, 65536, 32128, false)));
        });
        foreach ((string name, int layers, int hidden, int heads) in new[]
                 {
                     ("opt-13b", 40, 5120, 40), ("gpt3-39b", 48, 8192, 64), ("gpt3-101b", 80, 10240, 80),
                     ("gpt3-175b", 96, 12288, 96), ("gpt3-341b", 120, 15360, 120),
                 })
        {
            ModelSpec m = ModelPresets.Get(name);
            Assert.That((m.DecoderLayers, m.Hidden, m.Heads, m.EncoderLayers), Is.EqualTo((layers, hidden, heads, 0)), name);
            Assert.That(m.DtypeBytes, Is.EqualTo(2), name);
        }
    }

    [Test]
    public void LlamaFamilyIsGatedWithGroupedQueryAttention()
    {
        ModelSpec l70 = ModelPresets.Get("llama-2-70b");
        ModelSpec l3 = ModelPresets.Get("llama-3-8b");
        Assert.Multiple(() =>
        {
            Assert.That((l70.KvHeads, l70.FfnHidden, l70.GatedFfn, l70.TiedEmbeddings), Is.EqualTo((8, 28672, true, false)));
            Assert.That((l3.KvHeads, l3.Vocab, l3.FfnHidden, l3.MaxPositions), Is.EqualTo((8, 128256, 14336, 8192)));
            Assert.That(ModelPresets.Get("t5-3b").AttentionDim, Is.EqualTo(32 * 128));
        });
    }

    [Test]
    public void EveryPresetValidatesAndIsFp16()
    {
        Assert.That(ModelPresets.Names, Has.Count.GreaterThanOrEqualTo(27));
        foreach (string name in ModelPresets.Names)
        {
            ModelSpec m = ModelPresets.Get(name);
            Assert.DoesNotThrow(m.Validate, name);
            Assert.That(m.Name, Is.EqualTo(name));
            Assert.That(m.DtypeBytes, Is.EqualTo(2), name);
        }
    }

    [Test]
    public void LookupIsCaseInsensitiveAndKnowsAliases()
    {
        Assert.That(ModelPresets.Get(" OPT-13B ").Name, Is.EqualTo("opt-13b"));
        Assert.That(ModelPresets.Get("llama-30b").Name, Is.EqualTo("llama-33b"));
        Assert.That(ModelPresets.TryGet("opt-14b", out ModelSpec? none), Is.False);
        Assert.That(none, Is.Null);
    }

    [Test]
    public void UnknownNameListsPresets()
    {
        var e = Assert.Throws<SpecException>(() => ModelPresets.Get("gpt-5"))!;
        Assert.That(e.Message, Does.Contain("gpt-5").And.Contain("opt-13b").And.Contain("llama-3-70b").And.Contain("t5-11b"));
    }

    [TestCase("opt-13b", 8, true)]     // 40 heads
    [TestCase("opt-13b", 3, false)]
    [TestCase("llama-33b", 4, true)]   // 52 heads
    [TestCase("llama-33b", 8, false)]
    [TestCase("llama-2-70b", 8, true)] // 64 heads, 8 KV heads
    [TestCase("llama-2-70b", 16, false)]
    [TestCase("t5-11b", 8, true)]
    [TestCase("gpt3-101b", 16, true)]  // 80 heads
    [TestCase("gpt3-101b", 32, false)]
    public void TensorParallelDegreeMustDivideHeadsAndKvHeads(string name, int tp, bool ok)
    {
        ModelSpec m = ModelPresets.Get(name);
        Assert.That(m.SupportsTensorParallel(tp), Is.EqualTo(ok));
        if (ok)
            Assert.DoesNotThrow(() => m.RequireTensorParallel(tp));
        else
            Assert.That(() => m.RequireTensorParallel(tp), Throws.TypeOf<SpecException>().With.Message.Contain(tp.ToString()));
    }
}
