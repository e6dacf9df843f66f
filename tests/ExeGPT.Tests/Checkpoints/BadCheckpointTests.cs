using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>
/// Corrupt, contradictory or missing checkpoint files: each load fails with a status and a message that
/// names the bad file, tensor or field, and the library keeps working afterwards.
/// </summary>
[TestFixture]
public sealed class BadCheckpointTests
{
    private const string Fc1 = "model.decoder.layers.0.fc1.weight";
    private TinyOptCheckpoint _checkpoint = null!;

    [SetUp]
    public void CreateCheckpoint() => _checkpoint = TinyOptCheckpoint.Create(new OptSpec(), seed: 71);

    [TearDown]
    public void DeleteCheckpointAndCheckTheLibrary()
    {
        _checkpoint.Dispose();
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
        {
            EngineHealth.AssertTinyGenerationWorks();
        }
    }

    private void Load()
    {
        using var loaded = LoadedModel.FromCheckpoint(_checkpoint.Directory);
    }

    private string LastTensor => OptTensorNames.Expected(_checkpoint.Spec).Last().Name;

    [Test]
    public void TruncatedWeightsFile()
    {
        BrokenCheckpoint.Truncate(_checkpoint, bytesToCut: 100);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, "model.safetensors", LastTensor, "truncated");
    }

    [Test]
    public void FileShorterThanItsHeaderLengthField()
    {
        BrokenCheckpoint.Truncate(_checkpoint, bytesToCut: (int)new FileInfo(_checkpoint.WeightsFile).Length - 5);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, "model.safetensors", "header", "truncated");
    }

    [Test]
    public void HeaderLengthBeyondTheFile()
    {
        BrokenCheckpoint.OverstateHeaderLength(_checkpoint);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, "model.safetensors", "header");
    }

    [Test]
    public void HeaderThatIsNotJson()
    {
        BrokenCheckpoint.GarbleHeader(_checkpoint);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, "model.safetensors", "header", "json");
    }

    [TestCase("F64", 8)]
    [TestCase("I8", 1)]
    public void UnsupportedDtype(string dtype, int elementBytes)
    {
        BrokenCheckpoint.RetypeTensor(_checkpoint, Fc1, dtype, elementBytes);
        ErrorAssert.ThrowsOneOf(Load, [exg_status.EXG_ERR_FORMAT, exg_status.EXG_ERR_UNSUPPORTED], Fc1, dtype);
    }

    [Test]
    public void ShapeContradictingTheConfig()
    {
        // Transposed: same element count, so only a shape check catches it.
        var spec = _checkpoint.Spec;
        BrokenCheckpoint.ReshapeTensor(_checkpoint, Fc1, [spec.HiddenSize, spec.FfnDim]);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, Fc1);
    }

    [Test]
    public void ShapeWithTheWrongNumberOfElements()
    {
        const string positions = "model.decoder.embed_positions.weight";
        BrokenCheckpoint.ReshapeTensor(_checkpoint, positions, [_checkpoint.Spec.MaxPositions, _checkpoint.Spec.HiddenSize]);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, positions);
    }

    [Test]
    public void MissingTensor()
    {
        const string name = "model.decoder.layers.1.self_attn.k_proj.bias";
        BrokenCheckpoint.RemoveTensor(_checkpoint, name);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, name);
    }

    [Test]
    public void MissingUntiedLmHead()
    {
        _checkpoint.Dispose();
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { TieWordEmbeddings = false }, seed: 72);
        BrokenCheckpoint.RemoveTensor(_checkpoint, "lm_head.weight");
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, "lm_head.weight");
    }

    [TestCase("hidden_size")]
    [TestCase("num_attention_heads")]
    [TestCase("vocab_size")]
    public void MissingConfigField(string field)
    {
        BrokenCheckpoint.EditConfig(_checkpoint, json => json.Remove(field));
        ErrorAssert.Throws(() => ModelConfigs.FromCheckpoint(_checkpoint.Directory), exg_status.EXG_ERR_FORMAT, field);
    }

    [Test]
    public void ConfigFieldOfTheWrongType()
    {
        BrokenCheckpoint.EditConfig(_checkpoint, json => json["hidden_size"] = "thirty-two");
        ErrorAssert.Throws(() => ModelConfigs.FromCheckpoint(_checkpoint.Directory), exg_status.EXG_ERR_FORMAT, "hidden_size");
    }

    [Test]
    public void ConfigThatIsNotJson()
    {
        File.WriteAllText(Path.Combine(_checkpoint.Directory, OptConfigJson.FileName), "{ \"hidden_size\": 32, ");
        ErrorAssert.Throws(() => ModelConfigs.FromCheckpoint(_checkpoint.Directory), exg_status.EXG_ERR_FORMAT, "config.json");
    }

    [Test]
    public void ConfigWithHeadsNotDividingHidden()
    {
        BrokenCheckpoint.EditConfig(_checkpoint, json => json["num_attention_heads"] = 5);
        ErrorAssert.ThrowsOneOf(Load, [exg_status.EXG_ERR_FORMAT, exg_status.EXG_ERR_INVALID_ARGUMENT],
            "num_attention_heads", "num_heads", "hidden_size");
    }

    [Test]
    public void ConfigWithZeroLayers()
    {
        BrokenCheckpoint.EditConfig(_checkpoint, json => json["num_hidden_layers"] = 0);
        ErrorAssert.ThrowsOneOf(Load, [exg_status.EXG_ERR_FORMAT, exg_status.EXG_ERR_INVALID_ARGUMENT], "num_hidden_layers", "num_layers");
    }

    [Test]
    public void UnknownActivation()
    {
        BrokenCheckpoint.EditConfig(_checkpoint, json => json["activation_function"] = "swishy");
        ErrorAssert.ThrowsOneOf(() => ModelConfigs.FromCheckpoint(_checkpoint.Directory),
            [exg_status.EXG_ERR_FORMAT, exg_status.EXG_ERR_UNSUPPORTED], "swishy", "activation");
    }

    [Test]
    public void ConfigContradictingTheWeights()
    {
        // config.json says 3 layers; the weights have 2: layer 2's tensors are missing.
        BrokenCheckpoint.EditConfig(_checkpoint, json => json["num_hidden_layers"] = 3);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_FORMAT, "layers.2");
    }

    [Test]
    public void MissingConfigFile()
    {
        File.Delete(Path.Combine(_checkpoint.Directory, OptConfigJson.FileName));
        ErrorAssert.Throws(() => ModelConfigs.FromCheckpoint(_checkpoint.Directory), exg_status.EXG_ERR_IO, "config.json");
    }

    [Test]
    public void MissingWeightsFile()
    {
        File.Delete(_checkpoint.WeightsFile);
        ErrorAssert.Throws(Load, exg_status.EXG_ERR_IO, "safetensors");
    }

    [Test]
    public void IndexNamingAMissingShard()
    {
        _checkpoint.Dispose();
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec(), seed: 73, shards: 3);
        string missing = ShardedSafetensorsWriter.ShardFileName(2, 3);
        File.Delete(Path.Combine(_checkpoint.Directory, missing));
        ErrorAssert.ThrowsOneOf(Load, [exg_status.EXG_ERR_IO, exg_status.EXG_ERR_FORMAT], missing);
    }

    [Test]
    public void DirectoryThatDoesNotExist()
    {
        string dir = Path.Combine(_checkpoint.Directory, "no-such-checkpoint");
        ErrorAssert.Throws(() => ModelConfigs.FromCheckpoint(dir), exg_status.EXG_ERR_IO, "no-such-checkpoint");

        using var backend = LoadedModel.CpuBackend();
        var options = new ModelOptions { Config = ModelConfigs.FromCheckpoint(_checkpoint.Directory), CheckpointDir = dir };
        ErrorAssert.Throws(() => Model.Create(backend, options).Dispose(), exg_status.EXG_ERR_IO, "no-such-checkpoint");
    }
}
