using System.Text.Json;
using ExeGPT.Native;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Runtime;

/// <summary>
/// Where a model's shape and weights come from: a named preset (seeded random weights) or a
/// Hugging Face checkpoint directory (config.json + safetensors).
/// </summary>
public sealed class ModelSource
{
    private ModelSource(string name, exg_model_config config, string? checkpointDir, int? eosTokenId = null)
    {
        Name = name;
        Config = config;
        CheckpointDir = checkpointDir;
        EosTokenId = eosTokenId;
    }

    /// <summary>The preset name or the checkpoint directory as given.</summary>
    public string Name { get; }

    /// <summary>The model's shape.</summary>
    public exg_model_config Config { get; }

    /// <summary>The checkpoint directory; null for a preset with random weights.</summary>
    public string? CheckpointDir { get; }

    /// <summary>
    /// The checkpoint's end-of-sequence token (generation_config.json, else config.json), at which
    /// Hugging Face generation stops; null for presets and checkpoints that declare none.
    /// </summary>
    public int? EosTokenId { get; }

    /// <summary>True when the weights come from <see cref="CheckpointDir"/> rather than a seed.</summary>
    public bool IsCheckpoint => CheckpointDir is not null;

    /// <summary>A preset shape; its weights are drawn from the generator's seed.</summary>
    public static ModelSource FromPreset(string name) => new(name, ModelConfigs.Preset(name), null);

    /// <summary>A Hugging Face OPT checkpoint directory.</summary>
    public static ModelSource FromCheckpoint(string dir)
    {
        exg_model_config config = ModelConfigs.FromCheckpoint(dir);
        int? eos = ReadEosTokenId(Path.Combine(dir, "generation_config.json"), config)
            ?? ReadEosTokenId(Path.Combine(dir, "config.json"), config);
        return new ModelSource(dir, config, Path.GetFullPath(dir), eos);
    }

    /// <summary>eos_token_id of a JSON file: an integer, or the first of a list; ignored when absent,
    /// malformed or outside the vocabulary (the engine already validated the config itself).</summary>
    private static int? ReadEosTokenId(string path, in exg_model_config config)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("eos_token_id", out JsonElement eos))
                return null;
            if (eos.ValueKind == JsonValueKind.Array && eos.GetArrayLength() > 0)
                eos = eos[0];
            return eos.ValueKind == JsonValueKind.Number && eos.TryGetInt32(out int id) && id >= 0 && id < config.vocab_size
                ? id
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A caller-built config with seeded random weights (tests, what-if shapes).</summary>
    public static ModelSource FromConfig(string name, in exg_model_config config)
    {
        ModelConfigs.Validate(config);
        return new ModelSource(name, config, null);
    }

    /// <summary>
    /// Resolves a user's model argument: a preset name wins over a directory of the same name
    /// (write "./tiny" to mean the directory); anything else is an error listing the presets.
    /// </summary>
    /// <exception cref="ArgumentException">Neither a preset nor an existing directory.</exception>
    public static ModelSource Resolve(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        IReadOnlyList<string> presets = ModelConfigs.PresetNames;
        if (presets.Contains(model, StringComparer.Ordinal))
            return FromPreset(model);
        if (Directory.Exists(model))
            return FromCheckpoint(model);
        throw new ArgumentException(
            $"Model '{model}' is neither a preset nor an existing checkpoint directory. " +
            $"Presets: {string.Join(", ", presets)}.", nameof(model));
    }
}
