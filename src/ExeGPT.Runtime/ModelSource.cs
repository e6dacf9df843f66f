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
    private ModelSource(string name, exg_model_config config, string? checkpointDir)
    {
        Name = name;
        Config = config;
        CheckpointDir = checkpointDir;
    }

    /// <summary>The preset name or the checkpoint directory as given.</summary>
    public string Name { get; }

    /// <summary>The model's shape.</summary>
    public exg_model_config Config { get; }

    /// <summary>The checkpoint directory; null for a preset with random weights.</summary>
    public string? CheckpointDir { get; }

    /// <summary>True when the weights come from <see cref="CheckpointDir"/> rather than a seed.</summary>
    public bool IsCheckpoint => CheckpointDir is not null;

    /// <summary>A preset shape; its weights are drawn from the generator's seed.</summary>
    public static ModelSource FromPreset(string name) => new(name, ModelConfigs.Preset(name), null);

    /// <summary>A Hugging Face OPT checkpoint directory.</summary>
    public static ModelSource FromCheckpoint(string dir) =>
        new(dir, ModelConfigs.FromCheckpoint(dir), Path.GetFullPath(dir));

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
