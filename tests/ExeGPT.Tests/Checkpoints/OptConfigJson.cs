using System.Text.Json;
using System.Text.Json.Nodes;
using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>A Hugging Face OPT config.json, written from an <see cref="OptSpec"/> or read back into one.</summary>
public static class OptConfigJson
{
    public const string FileName = "config.json";

    public static JsonObject ToJson(OptSpec s, CheckpointDtype dtype) => new()
    {
        ["architectures"] = new JsonArray("OPTForCausalLM"),
        ["model_type"] = "opt",
        ["vocab_size"] = s.VocabSize,
        ["hidden_size"] = s.HiddenSize,
        ["num_hidden_layers"] = s.NumLayers,
        ["num_attention_heads"] = s.NumHeads,
        ["ffn_dim"] = s.FfnDim,
        ["max_position_embeddings"] = s.MaxPositions,
        ["word_embed_proj_dim"] = s.ProjDim,
        ["do_layer_norm_before"] = s.PreLayerNorm,
        ["_remove_final_layer_norm"] = false,
        ["activation_function"] = s.Activation,
        ["enable_bias"] = s.EnableBias,
        ["layer_norm_elementwise_affine"] = s.LayerNormAffine,
        ["tie_word_embeddings"] = s.TieWordEmbeddings,
        ["torch_dtype"] = dtype.TorchName(),
        ["dropout"] = 0.1,
        ["attention_dropout"] = 0.0,
        ["bos_token_id"] = 2,
        ["eos_token_id"] = 2,
        ["pad_token_id"] = 1,
    };

    public static void Write(string dir, OptSpec s, CheckpointDtype dtype, Action<JsonObject>? edit = null)
    {
        var json = ToJson(s, dtype);
        edit?.Invoke(json);
        File.WriteAllText(Path.Combine(dir, FileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads the fields the reference needs, with HF's defaults for the optional ones.</summary>
    public static OptSpec Read(string dir)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, FileName)))!.AsObject();
        int hidden = Int(json, "hidden_size");
        return new OptSpec
        {
            VocabSize = Int(json, "vocab_size"),
            HiddenSize = hidden,
            NumLayers = Int(json, "num_hidden_layers"),
            NumHeads = Int(json, "num_attention_heads"),
            FfnDim = Int(json, "ffn_dim"),
            MaxPositions = Int(json, "max_position_embeddings"),
            WordEmbedProjDim = json["word_embed_proj_dim"]?.GetValue<int>() ?? hidden,
            PreLayerNorm = json["do_layer_norm_before"]?.GetValue<bool>() ?? true,
            Activation = json["activation_function"]?.GetValue<string>() ?? "relu",
            EnableBias = json["enable_bias"]?.GetValue<bool>() ?? true,
            LayerNormAffine = json["layer_norm_elementwise_affine"]?.GetValue<bool>() ?? true,
            TieWordEmbeddings = json["tie_word_embeddings"]?.GetValue<bool>() ?? true,
        };
    }

    private static int Int(JsonObject json, string field) =>
        json[field]?.GetValue<int>() ?? throw new InvalidDataException($"config.json has no {field}");
}
