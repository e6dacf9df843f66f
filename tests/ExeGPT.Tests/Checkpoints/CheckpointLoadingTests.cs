using ExeGPT.Tests.Engine;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>Reading Hugging Face OPT directories (config.json + safetensors, sharded or not) and writing them back.</summary>
[TestFixture]
public sealed class CheckpointLoadingTests
{
    [TestCaseSource(typeof(ParityVariants), nameof(ParityVariants.All))]
    public void ConfigFromCheckpointReadsEveryField(OptSpec spec, CheckpointDtype dtype)
    {
        using var checkpoint = TinyOptCheckpoint.Create(spec, dtype);
        var c = ModelConfigs.FromCheckpoint(checkpoint.Directory);
        AssertConfigIs(c, spec);
    }

    [Test]
    public void MissingOptionalFieldsTakeHuggingFaceDefaults()
    {
        // Older OPT configs (e.g. opt-125m's) predate these fields; HF fills them in as below.
        using var checkpoint = TinyOptCheckpoint.Create();
        BrokenCheckpoint.EditConfig(checkpoint, json =>
        {
            foreach (var field in new[] { "word_embed_proj_dim", "enable_bias", "layer_norm_elementwise_affine", "tie_word_embeddings", "do_layer_norm_before", "_remove_final_layer_norm" })
            {
                json.Remove(field);
            }
        });
        AssertConfigIs(ModelConfigs.FromCheckpoint(checkpoint.Directory), checkpoint.Spec);

        using var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory);
        using var cache = loaded.NewCache(maxSlots: 1, maxSeqLen: 8);
        LogitAssert.Close(Run.Prefill(loaded.Model, cache, cache.AllocSlot(), [3, 1, 4]), checkpoint.Reference().LastLogits([3, 1, 4]),
            LogitAssert.ReferenceTolerance, "defaults");
    }

    [TestCase(2)]
    [TestCase(5)]
    public void ShardedCheckpointEqualsUnsharded(int shards)
    {
        var spec = new OptSpec { TieWordEmbeddings = false, WordEmbedProjDim = 16 };
        using var single = TinyOptCheckpoint.Create(spec, CheckpointDtype.BF16, seed: 61);
        using var sharded = TinyOptCheckpoint.Create(spec, CheckpointDtype.BF16, seed: 61, shards: shards);
        var prompt = Run.Tokens(9, spec.VocabSize, 62);

        var fromSingle = PrefillThenDecode(single.Directory, prompt);
        var fromSharded = PrefillThenDecode(sharded.Directory, prompt);
        LogitAssert.Identical(fromSharded, fromSingle, $"{shards} shards vs one file");
        LogitAssert.Close(fromSingle, single.Reference().LastLogits([.. prompt, 7]), LogitAssert.ReferenceTolerance, "vs reference");
    }

    [Test]
    public void SavedF32CheckpointReloadsToIdenticalLogits()
    {
        using var dir = new TempDirectory("save-f32");
        var prompt = new[] { 5, 9, 2, 6, 5, 3 };
        float[] original;
        using (var loaded = LoadedModel.FromPreset("tiny", seed: 63))
        {
            original = PrefillThenDecode(loaded, prompt);
            loaded.Model.SaveCheckpoint(dir.Path, exg_dtype.EXG_DTYPE_F32);
        }

        Assert.That(File.Exists(Path.Combine(dir.Path, "config.json")), Is.True);
        Assert.That(File.Exists(Path.Combine(dir.Path, "model.safetensors")), Is.True);
        LogitAssert.Identical(PrefillThenDecode(dir.Path, prompt), original, "reloaded F32 checkpoint");
    }

    [TestCase(exg_dtype.EXG_DTYPE_F16, "F16", 5e-3)]
    [TestCase(exg_dtype.EXG_DTYPE_BF16, "BF16", 4e-2)]
    public void SavedHalfCheckpointReloadsWithinDtypeTolerance(exg_dtype dtype, string stored, double tolerance)
    {
        // Tolerances: F16 keeps 11 significant bits (2^-11 ~ 5e-4 per weight), BF16 8 bits (2^-8 ~ 4e-3);
        // errors of many weights partly cancel, and logits move by about that relative amount.
        using var dir = new TempDirectory("save-half");
        var prompt = new[] { 5, 9, 2, 6, 5, 3 };
        float[] original;
        using (var loaded = LoadedModel.FromPreset("tiny", seed: 64))
        {
            original = PrefillThenDecode(loaded, prompt);
            loaded.Model.SaveCheckpoint(dir.Path, dtype);
        }

        var tensors = SafetensorsReader.ReadDirectory(dir.Path);
        Assert.That(tensors.Values.Select(t => t.Dtype).Distinct(), Is.EqualTo(new[] { stored }));
        LogitAssert.Close(PrefillThenDecode(dir.Path, prompt), original, tolerance, $"reloaded {stored} checkpoint");
    }

    [TestCase("tiny")]
    [TestCase("tiny-gelu")]
    [TestCase("tiny-postln")]
    [TestCase("tiny-proj")]
    public void SavedPresetRunsTheSameInTheReference(string preset)
    {
        // The engine's own random model, written out and read by the test-side reader: names, layouts and
        // config fields of the saved files must mean what Hugging Face means by them.
        using var dir = new TempDirectory("save-ref");
        using var loaded = LoadedModel.FromPreset(preset, seed: 65);
        loaded.Model.SaveCheckpoint(dir.Path, exg_dtype.EXG_DTYPE_F32);
        var spec = OptConfigJson.Read(dir.Path);
        var weights = SafetensorsReader.ReadDirectory(dir.Path).ToDictionary(p => p.Key, p => p.Value.Tensor);
        var reference = new OptReference(spec, weights);
        AssertConfigIs(loaded.Config, spec);

        var prompt = Run.Tokens(Math.Min(7, spec.MaxPositions - 1), spec.VocabSize, 66);
        LogitAssert.Close(PrefillThenDecode(loaded, prompt), reference.LastLogits([.. prompt, 7]), LogitAssert.ReferenceTolerance, preset);
    }

    [Test]
    public void SavingALoadedCheckpointWritesTheSameTensors()
    {
        var spec = new OptSpec { PreLayerNorm = false, WordEmbedProjDim = 16, TieWordEmbeddings = false, Activation = "gelu" };
        using var checkpoint = TinyOptCheckpoint.Create(spec, seed: 67);
        using var dir = new TempDirectory("resave");
        using (var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory))
        {
            loaded.Model.SaveCheckpoint(dir.Path, exg_dtype.EXG_DTYPE_F32);
        }

        Assert.That(OptConfigJson.Read(dir.Path), Is.EqualTo(spec));
        var saved = SafetensorsReader.ReadDirectory(dir.Path);
        foreach (var (name, tensor) in checkpoint.Weights)
        {
            Assert.That(saved.ContainsKey(name), Is.True, $"saved checkpoint lacks {name}");
            Assert.That(saved[name].Tensor.Shape, Is.EqualTo(tensor.Shape), name);
            Assert.That(saved[name].Tensor.Data, Is.EqualTo(tensor.Data), name);
        }
    }

    [Test]
    public void ModelIsUsableAfterItsCheckpointIsDeleted()
    {
        // The engine must not keep reading (or mapping) files it was given once.
        var checkpoint = TinyOptCheckpoint.Create(seed: 68);
        var reference = checkpoint.Reference();
        using var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory);
        checkpoint.Dispose();
        Assert.That(Directory.Exists(checkpoint.Directory), Is.False);
        var prompt = new[] { 8, 6, 7, 5, 3, 0, 9 };
        LogitAssert.Close(PrefillThenDecode(loaded, prompt), reference.LastLogits([.. prompt, 7]), LogitAssert.ReferenceTolerance, "after delete");
    }

    internal static void AssertConfigIs(exg_model_config c, OptSpec spec)
    {
        Assert.Multiple(() =>
        {
            Assert.That(c.vocab_size, Is.EqualTo(spec.VocabSize), "vocab_size");
            Assert.That(c.hidden_size, Is.EqualTo(spec.HiddenSize), "hidden_size");
            Assert.That(c.num_layers, Is.EqualTo(spec.NumLayers), "num_layers");
            Assert.That(c.num_heads, Is.EqualTo(spec.NumHeads), "num_heads");
            Assert.That(c.ffn_dim, Is.EqualTo(spec.FfnDim), "ffn_dim");
            Assert.That(c.max_positions, Is.EqualTo(spec.MaxPositions), "max_positions");
            Assert.That(c.position_offset, Is.EqualTo(OptSpec.PositionOffset), "position_offset");
            Assert.That(c.word_embed_proj_dim, Is.EqualTo(spec.ProjDim), "word_embed_proj_dim");
            Assert.That((exg_activation)c.activation, Is.EqualTo(ActivationOf(spec.Activation)), "activation");
            Assert.That(c.layer_norm_eps, Is.EqualTo((float)OptSpec.LayerNormEps), "layer_norm_eps");
            Assert.That(c.pre_layer_norm != 0, Is.EqualTo(spec.PreLayerNorm), "pre_layer_norm");
            Assert.That(c.final_layer_norm != 0, Is.EqualTo(spec.HasFinalLayerNorm), "final_layer_norm");
            Assert.That(c.layer_norm_affine != 0, Is.EqualTo(spec.LayerNormAffine), "layer_norm_affine");
            Assert.That(c.enable_bias != 0, Is.EqualTo(spec.EnableBias), "enable_bias");
            Assert.That(c.tied_lm_head != 0, Is.EqualTo(spec.TieWordEmbeddings), "tied_lm_head");
        });
    }

    private static exg_activation ActivationOf(string hfName) => hfName switch
    {
        "relu" => exg_activation.EXG_ACT_RELU,
        "gelu" => exg_activation.EXG_ACT_GELU,
        _ => exg_activation.EXG_ACT_GELU_TANH,
    };

    private static float[] PrefillThenDecode(string checkpointDir, int[] prompt)
    {
        using var loaded = LoadedModel.FromCheckpoint(checkpointDir);
        return PrefillThenDecode(loaded, prompt);
    }

    /// <summary>Logits after the prompt plus one decoded token (7), which exercises both paths.</summary>
    private static float[] PrefillThenDecode(LoadedModel loaded, int[] prompt)
    {
        using var cache = loaded.NewCache(maxSlots: 1, maxSeqLen: prompt.Length + 1);
        int slot = cache.AllocSlot();
        Run.Prefill(loaded.Model, cache, slot, prompt);
        return Run.Decode(loaded.Model, cache, [slot], [7]);
    }
}
