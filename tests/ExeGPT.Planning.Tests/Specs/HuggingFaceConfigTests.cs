using ExeGPT.Core;
using ExeGPT.Core.Models;

namespace ExeGPT.Planning.Tests.Specs;

public class HuggingFaceConfigTests
{
    private TempFiles _files = null!;

    [SetUp] public void SetUp() => _files = new TempFiles();
    [TearDown] public void TearDown() => _files.Dispose();

    // Trimmed copies of the published facebook/opt-13b, gpt2, meta-llama/Llama-2-70b-hf and t5-11b /
    // google/flan-t5-xl configs (the shape fields as published).
    private const string Opt13b = """
        {"_name_or_path": "facebook/opt-13b", "model_type": "opt", "hidden_size": 5120, "num_hidden_layers": 40,
         "num_attention_heads": 40, "ffn_dim": 20480, "vocab_size": 50272, "max_position_embeddings": 2048,
         "word_embed_proj_dim": 5120, "do_layer_norm_before": true, "torch_dtype": "float16"}
        """;
    private const string Gpt2 = """
        {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": null,
         "vocab_size": 50257, "n_positions": 1024}
        """;
    private const string Llama2_70b = """
        {"model_type": "llama", "hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64,
         "num_key_value_heads": 8, "intermediate_size": 28672, "vocab_size": 32000,
         "max_position_embeddings": 4096, "tie_word_embeddings": false}
        """;
    private const string T5_11b = """
        {"model_type": "t5", "d_model": 1024, "num_layers": 24, "num_heads": 128, "d_kv": 128, "d_ff": 65536,
         "vocab_size": 32128, "feed_forward_proj": "relu", "n_positions": 512}
        """;
    private const string FlanT5Xl = """
        {"model_type": "t5", "d_model": 2048, "num_layers": 24, "num_decoder_layers": 24, "num_heads": 32,
         "d_kv": 64, "d_ff": 5120, "vocab_size": 32128, "feed_forward_proj": "gated-gelu",
         "tie_word_embeddings": false}
        """;

    [Test]
    public void OptConfigMatchesThePreset()
    {
        ModelSpec fromFile = HuggingFaceConfig.FromConfigFile(_files.Write("opt-13b/config.json", Opt13b));
        Assert.That(fromFile, Is.EqualTo(ModelPresets.Get("opt-13b") with { Name = "facebook/opt-13b" }));
    }

    [Test]
    public void DirectoryPathFindsConfigAndNamesTheModelAfterIt()
    {
        _files.Write("my-gpt2/config.json", Gpt2);
        ModelSpec m = HuggingFaceConfig.FromConfigFile(Path.Combine(_files.Root, "my-gpt2"));
        Assert.Multiple(() =>
        {
            Assert.That(m.Name, Is.EqualTo("my-gpt2"));
            Assert.That((m.DecoderLayers, m.Hidden, m.Heads, m.HeadDim, m.FfnHidden, m.Vocab, m.MaxPositions),
                Is.EqualTo((12, 768, 12, 64, 3072, 50257, 1024)));
            Assert.That(m.TiedEmbeddings, Is.True);
            // GPT-2 small: 124e6 parameters with its 1024 position rows (0.8e6) and biases, which are not counted.
            Assert.That(m.TotalParams, Is.EqualTo(124e6).Within(0.02 * 124e6));
        });
    }

    [Test]
    public void LlamaConfigMatchesThePreset()
    {
        ModelSpec m = HuggingFaceConfig.FromConfigFile(_files.Write("llama/config.json", Llama2_70b));
        Assert.That(m with { Name = "llama-2-70b" }, Is.EqualTo(ModelPresets.Get("llama-2-70b")));
    }

    [Test]
    public void T5ConfigsReadGatingAndDecoderLayers()
    {
        ModelSpec t5 = HuggingFaceConfig.FromConfigFile(_files.Write("t5-11b/config.json", T5_11b));
        Assert.That(t5 with { Name = "t5-11b" }, Is.EqualTo(ModelPresets.Get("t5-11b")));

        ModelSpec flan = HuggingFaceConfig.FromConfigFile(_files.Write("flan/config.json", FlanT5Xl), dtypeBytes: 4);
        Assert.That((flan.GatedFfn, flan.TiedEmbeddings, flan.EncoderLayers, flan.DecoderLayers, flan.DtypeBytes, flan.AttentionDim),
            Is.EqualTo((true, false, 24, 24, 4, 2048L)));
    }

    [Test]
    public void MissingFileIsNamed()
    {
        string path = Path.Combine(_files.Root, "nope", "config.json");
        Assert.That(() => HuggingFaceConfig.FromConfigFile(path),
            Throws.TypeOf<SpecException>().With.Message.Contain(path).And.Message.Contain("not found"));
    }

    [Test]
    public void MissingFieldIsNamed()
    {
        string path = _files.Write("bad/config.json", Opt13b.Replace("\"ffn_dim\": 20480,", ""));
        Assert.That(() => HuggingFaceConfig.FromConfigFile(path),
            Throws.TypeOf<SpecException>().With.Message.Contain("'ffn_dim'").And.Message.Contain(path));
    }

    [Test]
    public void MistypedFieldIsNamed()
    {
        string path = _files.Write("bad/config.json", Opt13b.Replace("\"ffn_dim\": 20480", "\"ffn_dim\": \"big\""));
        Assert.That(() => HuggingFaceConfig.FromConfigFile(path),
            Throws.TypeOf<SpecException>().With.Message.Contain("'ffn_dim' must be an integer"));
    }

    [Test]
    public void UnknownModelTypeListsSupportedOnes()
    {
        string path = _files.Write("bad/config.json", """{"model_type": "bloom", "hidden_size": 1}""");
        Assert.That(() => HuggingFaceConfig.FromConfigFile(path),
            Throws.TypeOf<SpecException>().With.Message.Contain("'bloom'").And.Message.Contain("opt, gpt2, llama"));
    }

    [Test]
    public void MalformedJsonAndMissingModelTypeAreRejected()
    {
        Assert.That(() => HuggingFaceConfig.FromConfigFile(_files.Write("a/config.json", "{\"model_type\": ")),
            Throws.TypeOf<SpecException>().With.Message.Contain("not valid JSON"));
        Assert.That(() => HuggingFaceConfig.FromConfigFile(_files.Write("b/config.json", "{\"hidden_size\": 4}")),
            Throws.TypeOf<SpecException>().With.Message.Contain("'model_type'"));
        Assert.That(() => HuggingFaceConfig.FromConfigFile(_files.Write("c/config.json", "[1, 2]")),
            Throws.TypeOf<SpecException>().With.Message.Contain("expected a JSON object"));
    }

    [Test]
    public void InconsistentShapeIsRejected()
    {
        string path = _files.Write("bad/config.json", Llama2_70b.Replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 7"));
        Assert.That(() => HuggingFaceConfig.FromConfigFile(path),
            Throws.TypeOf<SpecException>().With.Message.Contain("7 KV heads"));
    }
}
