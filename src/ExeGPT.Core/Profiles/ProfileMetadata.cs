using ExeGPT.Core.Models;

namespace ExeGPT.Core.Profiles;

/// <summary>Where a profile's numbers come from.</summary>
public enum ProfileKind
{
    /// <summary>Computed from a hardware spec by the roofline model (<see cref="AnalyticProfile"/>).</summary>
    Analytic,
    /// <summary>Timed on a real engine by the profiler.</summary>
    Measured,
}

/// <summary>The per-layer shape a profile was made for. Layer counts are not part of it: the tables are per
/// layer, so one profile serves every depth of the same layer shape.</summary>
/// <param name="Name">Model name, e.g. "opt-13b".</param>
/// <param name="Architecture">Decoder-only or encoder-decoder.</param>
/// <param name="Hidden">Model width.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads.</param>
/// <param name="HeadDim">Per-head width.</param>
/// <param name="FfnHidden">Inner FFN width.</param>
/// <param name="GatedFfn">Three FFN matrices instead of two.</param>
/// <param name="DtypeBytes">Bytes per element.</param>
public sealed record ModelFingerprint(string Name, ModelArchitecture Architecture, int Hidden, int Heads, int KvHeads,
    int HeadDim, int FfnHidden, bool GatedFfn, int DtypeBytes)
{
    /// <summary>The fingerprint of <paramref name="model"/>.</summary>
    public static ModelFingerprint Of(ModelSpec model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new(model.Name, model.Architecture, model.Hidden, model.Heads, model.KvHeads, model.HeadDim,
            model.FfnHidden, model.GatedFfn, model.DtypeBytes);
    }

    /// <summary>The first field that differs from <paramref name="model"/> as (field, profile value, model
    /// value), or null when the per-layer shape matches.</summary>
    public (string Field, string Profile, string Model)? FirstDifference(ModelSpec model)
    {
        ModelFingerprint other = Of(model);
        static (string, string, string)? Diff<T>(string field, T a, T b) =>
            EqualityComparer<T>.Default.Equals(a, b) ? null : (field, Text(a), Text(b));
        return Diff("name", Name, other.Name)
            ?? Diff("architecture", Architecture, other.Architecture)
            ?? Diff("hidden", Hidden, other.Hidden)
            ?? Diff("heads", Heads, other.Heads)
            ?? Diff("kv_heads", KvHeads, other.KvHeads)
            ?? Diff("head_dim", HeadDim, other.HeadDim)
            ?? Diff("ffn_hidden", FfnHidden, other.FfnHidden)
            ?? Diff("gated_ffn", GatedFfn, other.GatedFfn)
            ?? Diff("dtype_bytes", DtypeBytes, other.DtypeBytes);
    }

    /// <summary>Values spelled as in the profile file.</summary>
    private static string Text<T>(T value) => value switch
    {
        string s => $"'{s}'",
        bool b => b ? "true" : "false",
        ModelArchitecture a => ProfileJson.ArchitectureName(a),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "null",
    };
}

/// <summary>Provenance of a profile: what it was made for, on what, by what.</summary>
/// <param name="Kind">Analytic or measured.</param>
/// <param name="Model">The per-layer model shape.</param>
/// <param name="Device">Device name, e.g. "A40-48GB" or "cpu (2 cores)".</param>
/// <param name="Backend">What produced the times, e.g. "roofline", "cpu", "cuda".</param>
/// <param name="EngineVersion">Version of the engine or model that produced them.</param>
/// <param name="CreatedUtc">When the profile was made (UTC).</param>
/// <param name="Notes">Free text (settings, host, anything a reader should know).</param>
/// <param name="KernelLibrary">The plug-in kernel library the engine ran with (its name), or null for the engine's own kernels.</param>
public sealed record ProfileMetadata(ProfileKind Kind, ModelFingerprint Model, string Device, string Backend,
    string EngineVersion, DateTime CreatedUtc, string Notes = "", string? KernelLibrary = null);
