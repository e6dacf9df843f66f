using System.Text.Json;

namespace ExeGPT.Core.Models;

/// <summary>Reads a model's shape from a Hugging Face <c>config.json</c> (no weights). Supported
/// <c>model_type</c>s: <c>opt</c>, <c>gpt2</c>, <c>llama</c> (and the same-shaped <c>mistral</c>) and <c>t5</c>.</summary>
/// <remarks>The checkpoint's <c>torch_dtype</c> is not used: plans are made for the serving precision,
/// fp16 by default, which is what the paper runs.</remarks>
public static class HuggingFaceConfig
{
    /// <summary>The model_type values this reader understands.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["opt", "gpt2", "llama", "mistral", "t5"];

    /// <summary>Reads <paramref name="configJsonPath"/> (a config.json, or the directory holding one).</summary>
    /// <param name="configJsonPath">Path of config.json or of its checkpoint directory.</param>
    /// <param name="dtypeBytes">Bytes per element to plan with (2: fp16/bf16).</param>
    /// <exception cref="SpecException">Missing or malformed file, unknown model_type, or a missing or
    /// mistyped field; the message names the file and the field.</exception>
    public static ModelSpec FromConfigFile(string configJsonPath, int dtypeBytes = 2)
    {
        string path = Directory.Exists(configJsonPath) ? Path.Combine(configJsonPath, "config.json") : configJsonPath;
        if (!File.Exists(path))
            throw new SpecException($"model config '{path}': file not found");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpecException($"model config '{path}': cannot be read: {e.Message}", e);
        }
        string fallbackName = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path))) ?? "model";
        return FromJson(text, path, fallbackName, dtypeBytes);
    }

    /// <summary>Parses config.json text; <paramref name="source"/> names it in messages and
    /// <paramref name="fallbackName"/> names the model when the config has no <c>_name_or_path</c>.</summary>
    public static ModelSpec FromJson(string json, string source, string fallbackName, int dtypeBytes = 2)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new SpecException($"model config '{source}': not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var config = new Fields(document.RootElement, source);
            string modelType = config.String("model_type");
            string name = config.OptionalString("_name_or_path") is { Length: > 0 } n ? n : fallbackName;
            ModelSpec model = modelType.ToLowerInvariant() switch
            {
                "opt" => Opt(config, name, dtypeBytes),
                "gpt2" => Gpt2(config, name, dtypeBytes),
                "llama" or "mistral" => Llama(config, name, dtypeBytes),
                "t5" => T5(config, name, dtypeBytes),
                _ => throw new SpecException(
                    $"model config '{source}': model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})"),
            };
            try
            {
                model.Validate();
            }
            catch (SpecException e)
            {
                throw new SpecException($"model config '{source}': {e.Message}", e);
            }
            return model;
        }
    }

    private static ModelSpec Opt(Fields c, string name, int dtype)
    {
        int hidden = c.Int("hidden_size"), heads = c.Int("num_attention_heads");
        return new ModelSpec(name, ModelArchitecture.DecoderOnly, 0, c.Int("num_hidden_layers"), hidden, heads, heads,
            HeadDim(c, hidden, heads), c.Int("ffn_dim"), GatedFfn: false, c.Int("vocab_size"), dtype,
            c.Int("max_position_embeddings"), c.OptionalBool("tie_word_embeddings") ?? true);
    }

    private static ModelSpec Gpt2(Fields c, string name, int dtype)
    {
        int hidden = c.Int("n_embd"), heads = c.Int("n_head");
        // n_inner is null or absent for the standard 4h FFN.
        return new ModelSpec(name, ModelArchitecture.DecoderOnly, 0, c.Int("n_layer"), hidden, heads, heads,
            HeadDim(c, hidden, heads), c.OptionalInt("n_inner") ?? 4 * hidden, GatedFfn: false, c.Int("vocab_size"), dtype,
            c.Int("n_positions"), c.OptionalBool("tie_word_embeddings") ?? true);
    }

    private static ModelSpec Llama(Fields c, string name, int dtype)
    {
        int hidden = c.Int("hidden_size"), heads = c.Int("num_attention_heads");
        return new ModelSpec(name, ModelArchitecture.DecoderOnly, 0, c.Int("num_hidden_layers"), hidden, heads,
            c.OptionalInt("num_key_value_heads") ?? heads, c.OptionalInt("head_dim") ?? HeadDim(c, hidden, heads),
            c.Int("intermediate_size"), GatedFfn: true, c.Int("vocab_size"), dtype,
            c.Int("max_position_embeddings"), c.OptionalBool("tie_word_embeddings") ?? false);
    }

    private static ModelSpec T5(Fields c, string name, int dtype)
    {
        int encoderLayers = c.Int("num_layers");
        // "relu" (original T5) or "gated-gelu" (T5 v1.1, flan-t5); default "relu" as in transformers.
        string ffnKind = c.OptionalString("feed_forward_proj") ?? "relu";
        // Relative position buckets accept any length; 2048 bounds planning as for the presets.
        return new ModelSpec(name, ModelArchitecture.EncoderDecoder, encoderLayers,
            c.OptionalInt("num_decoder_layers") ?? encoderLayers, c.Int("d_model"), c.Int("num_heads"), c.Int("num_heads"),
            c.Int("d_kv"), c.Int("d_ff"), GatedFfn: ffnKind.StartsWith("gated", StringComparison.OrdinalIgnoreCase),
            c.Int("vocab_size"), dtype, MaxPositions: 2048, c.OptionalBool("tie_word_embeddings") ?? true);
    }

    private static int HeadDim(Fields c, int hidden, int heads)
    {
        if (heads <= 0 || hidden % heads != 0)
            throw new SpecException($"model config '{c.Source}': hidden size {hidden} is not a multiple of {heads} heads");
        return hidden / heads;
    }

    // Typed field access with messages that name the file and the field.
    private readonly struct Fields
    {
        private readonly JsonElement _root;

        public Fields(JsonElement root, string source)
        {
            if (root.ValueKind != JsonValueKind.Object)
                throw new SpecException($"model config '{source}': expected a JSON object, got a {root.ValueKind.ToString().ToLowerInvariant()}");
            _root = root;
            Source = source;
        }

        public string Source { get; }

        public int Int(string field) =>
            OptionalInt(field) ?? throw new SpecException($"model config '{Source}': missing field '{field}' (an integer)");

        public int? OptionalInt(string field)
        {
            if (!_root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int value))
                throw new SpecException($"model config '{Source}': field '{field}' must be an integer, got {v.GetRawText()}");
            return value;
        }

        public string String(string field) =>
            OptionalString(field) ?? throw new SpecException($"model config '{Source}': missing field '{field}' (a string)");

        public string? OptionalString(string field)
        {
            if (!_root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.String)
                throw new SpecException($"model config '{Source}': field '{field}' must be a string, got {v.GetRawText()}");
            return v.GetString();
        }

        public bool? OptionalBool(string field)
        {
            if (!_root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new SpecException($"model config '{Source}': field '{field}' must be true or false, got {v.GetRawText()}"),
            };
        }
    }
}
