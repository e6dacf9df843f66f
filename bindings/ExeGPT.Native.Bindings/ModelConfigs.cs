using ExeGPT.Native.Internal;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>Model shapes: the library's named presets, Hugging Face checkpoint configs, and validation.</summary>
public static unsafe class ModelConfigs
{
    private static IReadOnlyList<string>? s_presetNames;

    /// <summary>Every preset name the library knows (e.g. "opt-125m", "gpt3-175b", "tiny").</summary>
    public static IReadOnlyList<string> PresetNames => s_presetNames ??= LoadPresetNames();

    /// <exception cref="ExgException">The name is not a preset.</exception>
    public static exg_model_config Preset(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        NativeLibraryLoader.EnsureLoaded();
        using var utf8 = new Utf8String(name, stackalloc byte[128], nameof(name));
        var config = Empty();
        fixed (byte* p = utf8)
            Check(exg_config_preset(p, &config));
        return config;
    }

    /// <summary>Reads <c>config.json</c> of a Hugging Face OPT checkpoint folder.</summary>
    /// <exception cref="ExgException">EXG_ERR_IO or EXG_ERR_FORMAT naming the problem.</exception>
    public static exg_model_config FromCheckpoint(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        NativeLibraryLoader.EnsureLoaded();
        using var utf8 = new Utf8String(dir, stackalloc byte[512], nameof(dir));
        var config = Empty();
        fixed (byte* p = utf8)
            Check(exg_config_from_checkpoint(p, &config));
        return config;
    }

    /// <summary>Checks sizes and divisibility; the safe layer stamps <c>struct_size</c>, so callers need not.</summary>
    /// <exception cref="ExgException">EXG_ERR_INVALID_ARGUMENT naming the inconsistent field.</exception>
    public static void Validate(in exg_model_config config)
    {
        NativeLibraryLoader.EnsureLoaded();
        var copy = Stamped(config);
        Check(exg_config_validate(&copy));
    }

    /// <summary>The config with <c>struct_size</c> set to the layout these bindings were built against.</summary>
    internal static exg_model_config Stamped(in exg_model_config config)
    {
        var copy = config;
        copy.struct_size = (uint)sizeof(exg_model_config);
        return copy;
    }

    private static exg_model_config Empty() => new() { struct_size = (uint)sizeof(exg_model_config) };

    private static IReadOnlyList<string> LoadPresetNames()
    {
        NativeLibraryLoader.EnsureLoaded();
        var count = exg_config_preset_count();
        var names = new string[count];
        for (var i = 0; i < count; i++)
            names[i] = Utf8.ToString(exg_config_preset_name(i));
        return Array.AsReadOnly(names);
    }
}
