using ExeGPT.Tests.Checkpoints;

namespace ExeGPT.Tests.Reference;

/// <summary>Properties the reference must have on its own, before it can judge the engine.</summary>
[TestFixture]
public sealed class OptReferenceTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void EarlierPositionsIgnoreLaterTokens(bool preLayerNorm)
    {
        var spec = new OptSpec { PreLayerNorm = preLayerNorm };
        var reference = new OptReference(spec, TinyOptCheckpoint.RandomWeights(spec, seed: 3, CheckpointDtype.F32));
        var a = reference.Logits([4, 8, 15, 16, 23]);
        var b = reference.Logits([4, 8, 15, 42, 1]);
        for (int t = 0; t < 3; t++)
        {
            Assert.That(b[t], Is.EqualTo(a[t]), $"position {t} saw a later token");
        }

        Assert.That(b[3], Is.Not.EqualTo(a[3]));
    }

    [Test]
    public void PositionsMatter()
    {
        var spec = new OptSpec();
        var reference = new OptReference(spec, TinyOptCheckpoint.RandomWeights(spec, seed: 3, CheckpointDtype.F32));
        // Same token twice: only the learned position (and the causal context) tells the rows apart.
        var logits = reference.Logits([7, 7]);
        Assert.That(logits[1], Is.Not.EqualTo(logits[0]));
    }

    [Test]
    public void LogitsAreSpreadEnoughToDetectMistakes()
    {
        // The random init is meant to give logits a few units wide; a near-constant vector would make the
        // relative parity criterion toothless.
        var spec = new OptSpec();
        var reference = new OptReference(spec, TinyOptCheckpoint.RandomWeights(spec, seed: 3, CheckpointDtype.F32));
        var last = reference.LastLogits([1, 2, 3, 4, 5, 6]);
        Assert.That(last.Max() - last.Min(), Is.InRange(2.0, 200.0));
    }

    [Test]
    public void RejectsWeightsOfTheWrongShape()
    {
        var spec = new OptSpec();
        var weights = new Dictionary<string, Tensor>(TinyOptCheckpoint.RandomWeights(spec, seed: 3, CheckpointDtype.F32))
        {
            ["model.decoder.layers.0.fc1.weight"] = new Tensor([spec.HiddenSize, spec.FfnDim], new float[spec.HiddenSize * spec.FfnDim]),
        };
        Assert.Throws<ArgumentException>(() => _ = new OptReference(spec, weights));
    }
}
