using System.Globalization;
using System.Text.Json;
using ExeGPT.Core.Models;

namespace ExeGPT.Core.Profiles;

/// <summary>Strict reader for <see cref="ProfileJson"/>: every field is checked, unknown fields are refused
/// (a typo must not silently drop a table), and each error names the source and the JSON path.</summary>
internal sealed class ProfileJsonReader
{
    private static readonly string[] TopLevelKeys =
        ["format", "version", "kind", "model", "device", "backend", "engine_version", "created", "notes", "kernel_library",
            "layers", "all_reduce", "send", "roofline"];
    private static readonly string[] ModelKeys =
        ["name", "architecture", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden", "gated_ffn", "dtype_bytes"];
    private static readonly string[] CreatedFormats =
        ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz"];

    private readonly string _source;

    private ProfileJsonReader(string source) => _source = source;

    public static ProfileTables Read(byte[] utf8, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new SpecException($"profile '{source}' is not valid JSON: {e.Message}", e);
        }
        using (document)
            return new ProfileJsonReader(source).ReadRoot(document.RootElement);
    }

    private ProfileTables ReadRoot(JsonElement root)
    {
        RequireObject(root, "$");
        string format = String(root, "format", "$");
        if (format != ProfileJson.Format)
            throw Error("$.format", $"is '{format}'; expected '{ProfileJson.Format}'");
        int version = Int(root, "version", "$");
        if (version != ProfileJson.Version)
            throw Error("$.version", $"is {version}; this build reads version {ProfileJson.Version} only");
        CheckKeys(root, "$", TopLevelKeys);

        string kindText = String(root, "kind", "$");
        ProfileKind kind = kindText switch
        {
            "analytic" => ProfileKind.Analytic,
            "measured" => ProfileKind.Measured,
            _ => throw Error("$.kind", $"is '{kindText}'; expected 'analytic' or 'measured'"),
        };
        ModelFingerprint model = ReadModel(Required(root, "model", "$"), "$.model");
        string createdText = String(root, "created", "$");
        if (!DateTimeOffset.TryParseExact(createdText, CreatedFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out DateTimeOffset created))
            throw Error("$.created", $"is '{createdText}'; expected an ISO 8601 UTC time such as 2024-04-12T09:30:00Z");
        var metadata = new ProfileMetadata(kind, model, String(root, "device", "$"), String(root, "backend", "$"),
            String(root, "engine_version", "$"), created.UtcDateTime, OptionalString(root, "notes", "$") ?? "",
            OptionalString(root, "kernel_library", "$"));

        var layers = new List<TensorParallelTables>();
        JsonElement layersElement = RequireArray(Required(root, "layers", "$"), "$.layers");
        int index = 0;
        foreach (JsonElement layer in layersElement.EnumerateArray())
            layers.Add(ReadLayer(layer, $"$.layers[{index++}]", model.Architecture));

        var allReduce = new List<ProfileTable1D>();
        index = 0;
        foreach (JsonElement table in RequireArray(Required(root, "all_reduce", "$"), "$.all_reduce").EnumerateArray())
        {
            string path = $"$.all_reduce[{index++}]";
            RequireObject(table, path);
            int tp = Int(table, "tp", path);
            allReduce.Add(Read1D(table, path, ProfileTables.AllReduceName, tp, "bytes", extraKey: "tp"));
        }

        JsonElement send = Required(root, "send", "$");
        RequireObject(send, "$.send");
        CheckKeys(send, "$.send", ["intra_node", "inter_node", "host_staged"]);
        ProfileTable1D Send(string key, string name) =>
            Read1D(Required(send, key, "$.send"), $"$.send.{key}", name, null, "bytes");

        ProfileRoofline? roofline = root.TryGetProperty("roofline", out JsonElement r) ? ReadRoofline(r, "$.roofline", layers) : null;
        return Build("$", () => new ProfileTables(metadata, layers, allReduce,
            Send("intra_node", ProfileTables.SendIntraNodeName),
            Send("inter_node", ProfileTables.SendInterNodeName),
            Send("host_staged", ProfileTables.SendHostStagedName), roofline));
    }

    private ProfileRoofline ReadRoofline(JsonElement e, string path, List<TensorParallelTables> layers)
    {
        RequireObject(e, path);
        CheckKeys(e, path, ["device", "peak_flops", "memory_bandwidth", "ops"]);
        var ops = new List<RooflineOp>();
        int index = 0;
        foreach (JsonElement op in RequireArray(Required(e, "ops", path), $"{path}.ops").EnumerateArray())
        {
            string at = $"{path}.ops[{index++}]";
            RequireObject(op, at);
            CheckKeys(op, at, ["tp", "table", "best_fraction", "median_fraction", "achieved_tflops", "achieved_gbps", "fraction"]);
            int tp = Int(op, "tp", at);
            string table = String(op, "table", at);
            TensorParallelTables? t = layers.FirstOrDefault(l => l.TensorParallel == tp);
            (int Points, int Columns) shape = (t is null ? null : ProfileRoofline.Shape(t, table))
                ?? throw Error(at, $"names table {table} (tp={tp}), which $.layers does not have");
            double[] Column(string key)
            {
                JsonElement c = Required(op, key, at);
                return shape.Columns > 0
                    ? Matrix(c, $"{at}.{key}", shape.Points / shape.Columns, shape.Columns, "batch", "length")
                    : Numbers(c, $"{at}.{key}");
            }
            double[] tflops = Column("achieved_tflops"), gbps = Column("achieved_gbps"), fraction = Column("fraction");
            double best = Number(op, "best_fraction", at), median = Number(op, "median_fraction", at);
            ops.Add(Build(at, () => new RooflineOp(tp, table, tflops, gbps, fraction, best, median)));
        }
        double peak = Number(e, "peak_flops", path), bandwidth = Number(e, "memory_bandwidth", path);
        string device = String(e, "device", path);
        return Build(path, () => new ProfileRoofline(device, peak, bandwidth, ops));
    }

    private double Number(JsonElement obj, string key, string path)
    {
        JsonElement e = Required(obj, key, path);
        return e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double v) && double.IsFinite(v)
            ? v
            : throw Error($"{path}.{key}", $"is {Describe(e)}; expected a finite number");
    }

    private ModelFingerprint ReadModel(JsonElement e, string path)
    {
        RequireObject(e, path);
        CheckKeys(e, path, ModelKeys);
        string architecture = String(e, "architecture", path);
        ModelArchitecture arch = architecture switch
        {
            "decoder-only" => ModelArchitecture.DecoderOnly,
            "encoder-decoder" => ModelArchitecture.EncoderDecoder,
            _ => throw Error($"{path}.architecture", $"is '{architecture}'; expected 'decoder-only' or 'encoder-decoder'"),
        };
        JsonElement gated = Required(e, "gated_ffn", path);
        if (gated.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw Error($"{path}.gated_ffn", $"is {gated.ValueKind}; expected true or false");
        return new ModelFingerprint(String(e, "name", path), arch, Int(e, "hidden", path), Int(e, "heads", path),
            Int(e, "kv_heads", path), Int(e, "head_dim", path), Int(e, "ffn_hidden", path), gated.GetBoolean(),
            Int(e, "dtype_bytes", path));
    }

    private TensorParallelTables ReadLayer(JsonElement e, string path, ModelArchitecture architecture)
    {
        RequireObject(e, path);
        CheckKeys(e, path, ["tp", "encoder", "decoder"]);
        int tp = Int(e, "tp", path);
        string at = $"{path} (tp={tp})";
        JsonElement encoder = Required(e, "encoder", path);
        RequireObject(encoder, $"{at}.encoder");
        CheckKeys(encoder, $"{at}.encoder", ["attention", "rest"]);
        JsonElement decoder = Required(e, "decoder", path);
        RequireObject(decoder, $"{at}.decoder");
        bool cross = architecture == ModelArchitecture.EncoderDecoder;
        if (!cross && decoder.TryGetProperty("cross_attention", out _))
            throw Error($"{at}.decoder", "has 'cross_attention' but $.model.architecture is decoder-only");
        CheckKeys(decoder, $"{at}.decoder", cross ? ["attention", "cross_attention", "rest", "head"] : ["attention", "rest", "head"]);

        ProfileTable2D encoderAttention = Read2D(Required(encoder, "attention", $"{at}.encoder"), $"{at}.encoder.attention",
            TensorParallelTables.EncoderAttentionName, tp, "batch", "seq_len");
        ProfileTable1D encoderRest = Read1D(Required(encoder, "rest", $"{at}.encoder"), $"{at}.encoder.rest",
            TensorParallelTables.EncoderRestName, tp, "tokens");
        ProfileTable2D decoderAttention = Read2D(Required(decoder, "attention", $"{at}.decoder"), $"{at}.decoder.attention",
            TensorParallelTables.DecoderAttentionName, tp, "batch", "context");
        ProfileTable2D? crossAttention = cross
            ? Read2D(Required(decoder, "cross_attention", $"{at}.decoder"), $"{at}.decoder.cross_attention",
                TensorParallelTables.CrossAttentionName, tp, "batch", "encoder_len")
            : null;
        ProfileTable1D decoderRest = Read1D(Required(decoder, "rest", $"{at}.decoder"), $"{at}.decoder.rest",
            TensorParallelTables.DecoderRestName, tp, "tokens");
        ProfileTable1D? head = decoder.TryGetProperty("head", out JsonElement headJson)
            ? Read1D(headJson, $"{at}.decoder.head", TensorParallelTables.HeadName, tp, "rows")
            : null;
        return Build(at, () => new TensorParallelTables(tp, encoderAttention, encoderRest, decoderAttention, crossAttention, decoderRest, head));
    }

    private ProfileTable1D Read1D(JsonElement e, string path, string name, int? tp, string axisName, string? extraKey = null)
    {
        RequireObject(e, path);
        CheckKeys(e, path, extraKey is null
            ? [axisName, "time_s", "spread_s", "flops", "memory_bytes"]
            : [extraKey, axisName, "time_s", "spread_s", "flops", "memory_bytes"]);
        double[] axis = Numbers(Required(e, axisName, path), $"{path}.{axisName}");
        double[]? Column(string key) => e.TryGetProperty(key, out JsonElement c) ? Numbers(c, $"{path}.{key}") : null;
        double[] times = Column("time_s") ?? throw Error(path, "has no 'time_s'");
        double[]? spread = Column("spread_s"), flops = Column("flops"), memory = Column("memory_bytes");
        return Build(path, () => new ProfileTable1D(name, tp, new ProfileAxis(axisName, axis), times, spread, flops, memory));
    }

    private ProfileTable2D Read2D(JsonElement e, string path, string name, int tp, string rowName, string columnName)
    {
        RequireObject(e, path);
        CheckKeys(e, path, [rowName, columnName, "time_s", "spread_s", "flops", "memory_bytes"]);
        double[] rows = Numbers(Required(e, rowName, path), $"{path}.{rowName}");
        double[] columns = Numbers(Required(e, columnName, path), $"{path}.{columnName}");
        double[]? Column(string key) =>
            e.TryGetProperty(key, out JsonElement c) ? Matrix(c, $"{path}.{key}", rows.Length, columns.Length, rowName, columnName) : null;
        double[] times = Column("time_s") ?? throw Error(path, "has no 'time_s'");
        double[]? spread = Column("spread_s"), flops = Column("flops"), memory = Column("memory_bytes");
        return Build(path, () => new ProfileTable2D(name, tp, new ProfileAxis(rowName, rows), new ProfileAxis(columnName, columns),
            times, spread, flops, memory));
    }

    /// <summary>An array of rows (one per row-axis point) of numbers (one per column-axis point), flattened.</summary>
    private double[] Matrix(JsonElement e, string path, int rows, int columns, string rowName, string columnName)
    {
        RequireArray(e, path);
        if (e.GetArrayLength() != rows)
            throw Error(path, $"has {e.GetArrayLength()} rows but {rowName} has {rows} points");
        var values = new double[rows * columns];
        int r = 0;
        foreach (JsonElement row in e.EnumerateArray())
        {
            double[] v = Numbers(row, $"{path}[{r}]");
            if (v.Length != columns)
                throw Error($"{path}[{r}]", $"has {v.Length} values but {columnName} has {columns} points");
            v.CopyTo(values, r * columns);
            r++;
        }
        return values;
    }

    private double[] Numbers(JsonElement e, string path)
    {
        RequireArray(e, path);
        var values = new double[e.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in e.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetDouble(out double v) || !double.IsFinite(v))
                throw Error($"{path}[{i}]", $"is {Describe(item)}; expected a finite number");
            values[i++] = v;
        }
        return values;
    }

    private T Build<T>(string path, Func<T> construct)
    {
        try
        {
            return construct();
        }
        catch (SpecException e)
        {
            throw new SpecException($"profile '{_source}': {path}: {e.Message}", e);
        }
    }

    private JsonElement Required(JsonElement obj, string key, string path) =>
        obj.TryGetProperty(key, out JsonElement value) ? value : throw Error(path, $"has no '{key}'");

    private string String(JsonElement obj, string key, string path)
    {
        JsonElement e = Required(obj, key, path);
        return e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Error($"{path}.{key}", $"is {Describe(e)}; expected a string");
    }

    private string? OptionalString(JsonElement obj, string key, string path) =>
        obj.TryGetProperty(key, out _) ? String(obj, key, path) : null;

    private int Int(JsonElement obj, string key, string path)
    {
        JsonElement e = Required(obj, key, path);
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v)
            ? v
            : throw Error($"{path}.{key}", $"is {Describe(e)}; expected an integer");
    }

    private void RequireObject(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw Error(path, $"is {Describe(e)}; expected an object");
    }

    private JsonElement RequireArray(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.Array ? e : throw Error(path, $"is {Describe(e)}; expected an array");

    private void CheckKeys(JsonElement obj, string path, string[] allowed)
    {
        foreach (JsonProperty p in obj.EnumerateObject())
            if (Array.IndexOf(allowed, p.Name) < 0)
                throw Error(path, $"has unknown field '{p.Name}' (known: {string.Join(", ", allowed)})");
    }

    private SpecException Error(string path, string problem) => new($"profile '{_source}': {path} {problem}");

    private static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{e.GetString()}\"",
        JsonValueKind.Number => e.GetRawText(),
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };
}
