using ExeGPT.Runtime;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runtime;

/// <summary>Turning the user's --model argument into a shape and a weight source.</summary>
[TestFixture]
public sealed class ModelSourceTests
{
    [Test]
    public void UnknownModelMessageListsEveryPreset()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelSource.Resolve("no-such-model-xyz"))!;
        Assert.That(ex.Message, Does.Contain("no-such-model-xyz"));
        Assert.That(ex.Message, Does.Contain("opt-125m"));
        foreach (var preset in ModelConfigs.PresetNames)
        {
            Assert.That(ex.Message, Does.Contain(preset), $"the message should list preset {preset}");
        }
    }

    [Test]
    public void APresetNameGivesThePresetWithoutCheckpoint()
    {
        var source = ModelSource.Resolve("opt-125m");
        Assert.That(source.IsCheckpoint, Is.False);
        Assert.That(source.CheckpointDir, Is.Null);
        Assert.That(source.Name, Is.EqualTo("opt-125m"));
        // OPT-125m's published shape (HF facebook/opt-125m config.json).
        var c = source.Config;
        Assert.That((c.num_layers, c.hidden_size, c.num_heads, c.ffn_dim, c.vocab_size, c.max_positions),
            Is.EqualTo((12, 768, 12, 3072, 50272, 2048)));
    }

    [Test]
    public void ACheckpointDirectoryGivesItsConfig()
    {
        var spec = new OptSpec { NumLayers = 3, NumHeads = 8, FfnDim = 48, MaxPositions = 40, VocabSize = 71 };
        using var checkpoint = TinyOptCheckpoint.Create(spec, seed: 5);
        var source = ModelSource.Resolve(checkpoint.Directory);
        Assert.That(source.IsCheckpoint, Is.True);
        Assert.That(source.CheckpointDir, Is.EqualTo(Path.GetFullPath(checkpoint.Directory)));
        var c = source.Config;
        Assert.That((c.num_layers, c.hidden_size, c.num_heads, c.ffn_dim, c.vocab_size, c.max_positions),
            Is.EqualTo((3, 32, 8, 48, 71, 40)));
    }

    [Test]
    public void ADirectoryWithoutCheckpointIsAnEngineError()
    {
        using var empty = new TempDirectory("not-a-checkpoint");
        Assert.Throws<ExgException>(() => ModelSource.Resolve(empty.Path));
    }

    [TestCase("")]
    [TestCase("  ")]
    public void BlankModelIsRejected(string model)
    {
        Assert.Throws<ArgumentException>(() => ModelSource.Resolve(model));
    }

    [Test]
    public void CheckpointEosComesFromGenerationConfigThenConfig()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 66);
        Assert.That(ModelSource.FromCheckpoint(checkpoint.Directory).EosTokenId, Is.EqualTo(2), "config.json's eos_token_id");
        File.WriteAllText(Path.Combine(checkpoint.Directory, "generation_config.json"), "{\"eos_token_id\": 7}");
        Assert.That(ModelSource.FromCheckpoint(checkpoint.Directory).EosTokenId, Is.EqualTo(7), "generation_config.json wins");
        File.WriteAllText(Path.Combine(checkpoint.Directory, "generation_config.json"), "{\"eos_token_id\": 100000}");
        Assert.That(ModelSource.FromCheckpoint(checkpoint.Directory).EosTokenId, Is.EqualTo(2), "an id outside the vocabulary is ignored");
        Assert.That(ModelSource.Resolve("tiny").EosTokenId, Is.Null, "presets declare no EOS");
    }
}
