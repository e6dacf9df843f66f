using System.Globalization;
using System.Text;
using System.Text.Json;
using ExeGPT.Core.Models;

namespace ExeGPT.Core.Profiles;

/// <summary>Reads and writes profile files (format "exegpt-profile", version 1; see Profiles/README.md) with
/// <see cref="Utf8JsonWriter"/> and <see cref="JsonDocument"/>: no reflection, so trimming and AOT are safe.</summary>
public static class ProfileJson
{
    /// <summary>The "format" field every profile file carries.</summary>
    public const string Format = "exegpt-profile";

    /// <summary>The only version this build reads and writes.</summary>
    public const int Version = 1;

    /// <summary>Reads and validates the profile file at <paramref name="path"/>.</summary>
    /// <exception cref="SpecException">The file cannot be read, is not valid JSON, or breaks the format;
    /// the message names the file and the JSON path of the bad part.</exception>
    public static ProfileTables Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new SpecException($"profile file '{path}' cannot be read: {e.Message}", e);
        }
        return ProfileJsonReader.Read(bytes, path);
    }

    /// <summary>Parses and validates profile JSON text.</summary>
    /// <param name="json">The file contents.</param>
    /// <param name="source">Names the text in error messages.</param>
    /// <exception cref="SpecException">Invalid JSON or a format violation, naming the JSON path.</exception>
    public static ProfileTables ReadFromString(string json, string source = "<string>")
    {
        ArgumentNullException.ThrowIfNull(json);
        return ProfileJsonReader.Read(Encoding.UTF8.GetBytes(json), source);
    }

    /// <summary>Writes <paramref name="profile"/> to <paramref name="path"/> (UTF-8, indented).</summary>
    public static void Write(ProfileTables profile, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        File.WriteAllBytes(path, ToUtf8(profile, indented: true));
    }

    /// <summary>The JSON text of <paramref name="profile"/>.</summary>
    /// <param name="profile">The profile.</param>
    /// <param name="indented">Indent for people (one number per line); false for the compact form.</param>
    public static string ToJson(ProfileTables profile, bool indented = true) =>
        Encoding.UTF8.GetString(ToUtf8(profile, indented));

    internal static string KindName(ProfileKind kind) => kind == ProfileKind.Analytic ? "analytic" : "measured";

    internal static string ArchitectureName(ModelArchitecture a) =>
        a == ModelArchitecture.EncoderDecoder ? "encoder-decoder" : "decoder-only";

    private static byte[] ToUtf8(ProfileTables profile, bool indented)
    {
        ArgumentNullException.ThrowIfNull(profile);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            ProfileMetadata m = profile.Metadata;
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteNumber("version", Version);
            w.WriteString("kind", KindName(m.Kind));
            WriteModel(w, m.Model);
            w.WriteString("device", m.Device);
            w.WriteString("backend", m.Backend);
            w.WriteString("engine_version", m.EngineVersion);
            w.WriteString("created", m.CreatedUtc.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
            w.WriteString("notes", m.Notes);
            if (m.KernelLibrary is not null)
                w.WriteString("kernel_library", m.KernelLibrary);

            w.WriteStartArray("layers");
            foreach (TensorParallelTables layer in profile.Layers)
            {
                w.WriteStartObject();
                w.WriteNumber("tp", layer.TensorParallel);
                w.WriteStartObject("encoder");
                Write2D(w, "attention", layer.EncoderAttention);
                Write1D(w, "rest", layer.EncoderRest);
                w.WriteEndObject();
                w.WriteStartObject("decoder");
                Write2D(w, "attention", layer.DecoderAttention);
                if (layer.CrossAttention is not null)
                    Write2D(w, "cross_attention", layer.CrossAttention);
                Write1D(w, "rest", layer.DecoderRest);
                if (layer.Head is not null)
                    Write1D(w, "head", layer.Head);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartArray("all_reduce");
            foreach (ProfileTable1D table in profile.AllReduceTables)
            {
                w.WriteStartObject();
                w.WriteNumber("tp", table.TensorParallel!.Value);
                Write1DBody(w, table);
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartObject("send");
            Write1D(w, "intra_node", profile.SendIntraNode);
            Write1D(w, "inter_node", profile.SendInterNode);
            Write1D(w, "host_staged", profile.SendHostStaged);
            w.WriteEndObject();
            if (profile.Roofline is not null)
                WriteRoofline(w, profile.Roofline, profile.Layers);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteRoofline(Utf8JsonWriter w, ProfileRoofline roofline, IReadOnlyList<TensorParallelTables> layers)
    {
        w.WriteStartObject("roofline");
        w.WriteString("device", roofline.Device);
        w.WriteNumber("peak_flops", roofline.PeakFlops);
        w.WriteNumber("memory_bandwidth", roofline.MemoryBandwidth);
        w.WriteStartArray("ops");
        foreach (RooflineOp op in roofline.Ops)
        {
            // 2-D tables keep their rows, as their time_s does.
            int columns = ProfileRoofline.Shape(layers.First(l => l.TensorParallel == op.TensorParallel), op.Table)!.Value.Columns;
            void Column(string name, IReadOnlyList<double> values)
            {
                if (columns > 0) WriteMatrix(w, name, values, columns);
                else WriteNumbers(w, name, values);
            }
            w.WriteStartObject();
            w.WriteNumber("tp", op.TensorParallel);
            w.WriteString("table", op.Table);
            w.WriteNumber("best_fraction", op.BestFraction);
            w.WriteNumber("median_fraction", op.MedianFraction);
            Column("achieved_tflops", op.AchievedTflops);
            Column("achieved_gbps", op.AchievedGbps);
            Column("fraction", op.Fraction);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter w, ModelFingerprint f)
    {
        w.WriteStartObject("model");
        w.WriteString("name", f.Name);
        w.WriteString("architecture", ArchitectureName(f.Architecture));
        w.WriteNumber("hidden", f.Hidden);
        w.WriteNumber("heads", f.Heads);
        w.WriteNumber("kv_heads", f.KvHeads);
        w.WriteNumber("head_dim", f.HeadDim);
        w.WriteNumber("ffn_hidden", f.FfnHidden);
        w.WriteBoolean("gated_ffn", f.GatedFfn);
        w.WriteNumber("dtype_bytes", f.DtypeBytes);
        w.WriteEndObject();
    }

    private static void Write1D(Utf8JsonWriter w, string property, ProfileTable1D table)
    {
        w.WriteStartObject(property);
        Write1DBody(w, table);
        w.WriteEndObject();
    }

    private static void Write1DBody(Utf8JsonWriter w, ProfileTable1D table)
    {
        WriteNumbers(w, table.Axis.Name, table.Axis.Points);
        WriteNumbers(w, "time_s", table.Times);
        if (table.Spread is not null) WriteNumbers(w, "spread_s", table.Spread);
        if (table.Flops is not null) WriteNumbers(w, "flops", table.Flops);
        if (table.MemoryBytes is not null) WriteNumbers(w, "memory_bytes", table.MemoryBytes);
    }

    private static void Write2D(Utf8JsonWriter w, string property, ProfileTable2D table)
    {
        w.WriteStartObject(property);
        WriteNumbers(w, table.Rows.Name, table.Rows.Points);
        WriteNumbers(w, table.Columns.Name, table.Columns.Points);
        int columns = table.Columns.Count;
        WriteMatrix(w, "time_s", table.Times, columns);
        if (table.Spread is not null) WriteMatrix(w, "spread_s", table.Spread, columns);
        if (table.Flops is not null) WriteMatrix(w, "flops", table.Flops, columns);
        if (table.MemoryBytes is not null) WriteMatrix(w, "memory_bytes", table.MemoryBytes, columns);
        w.WriteEndObject();
    }

    private static void WriteNumbers(Utf8JsonWriter w, string property, IReadOnlyList<double> values)
    {
        w.WriteStartArray(property);
        foreach (double v in values)
            w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    /// <summary>Row-major values as an array of rows, so the file shows the grid's shape.</summary>
    private static void WriteMatrix(Utf8JsonWriter w, string property, IReadOnlyList<double> values, int columns)
    {
        w.WriteStartArray(property);
        for (int start = 0; start < values.Count; start += columns)
        {
            w.WriteStartArray();
            for (int c = 0; c < columns; c++)
                w.WriteNumberValue(values[start + c]);
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }
}
