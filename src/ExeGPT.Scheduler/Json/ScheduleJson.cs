using System.Text;
using System.Text.Json;
using ExeGPT.Core;
using ExeGPT.Simulator;

namespace ExeGPT.Scheduler.Json;

/// <summary>Reads and writes a <see cref="Schedule"/> as JSON with snake_case keys, e.g.
/// <c>{"policy":"rra","encoder_batch":32,"decode_iterations":16,"tp_degree":2,"tp_groups":2,"micro_batches":0,"devices":0}</c>.
/// <c>policy</c> and <c>encoder_batch</c> are required; a missing optional field takes the record's default.
/// Reading also accepts a whole <c>exegpt schedule --json</c> document (its <c>"schedule"</c> object).
/// <see cref="JsonDocument"/> and <see cref="Utf8JsonWriter"/> only, so trimming and AOT are safe.</summary>
public static class ScheduleJson
{
    /// <summary>The keys of a schedule object, in writing order.</summary>
    public static IReadOnlyList<string> Fields { get; } =
        ["policy", "encoder_batch", "decode_iterations", "tp_degree", "tp_groups", "micro_batches", "devices"];

    /// <summary>Reads the schedule file at <paramref name="path"/>.</summary>
    /// <exception cref="SpecException">The file is missing or unreadable, is not JSON, or breaks the format;
    /// the message names the file and the field.</exception>
    public static Schedule Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new SpecException($"schedule file '{path}': file not found");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpecException($"schedule file '{path}': cannot be read: {e.Message}", e);
        }
        return Parse(bytes, $"schedule file '{path}'");
    }

    /// <summary>Parses schedule JSON text; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="SpecException">Not JSON, or a missing, unknown or mistyped field.</exception>
    public static Schedule Parse(string json, string source = "schedule JSON")
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(Encoding.UTF8.GetBytes(json), source);
    }

    private static Schedule Parse(byte[] utf8, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8);
        }
        catch (JsonException e)
        {
            throw new SpecException($"{source}: not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SpecException($"{source}: expected a JSON object, got {Kind(root)}");
            // An `exegpt schedule --json` document carries the schedule under "schedule".
            if (root.TryGetProperty("schedule", out JsonElement inner))
            {
                if (inner.ValueKind == JsonValueKind.Null)
                    throw new SpecException($"{source}: \"schedule\" is null (the scheduler found no schedule meeting its bound)");
                if (inner.ValueKind != JsonValueKind.Object)
                    throw new SpecException($"{source}: \"schedule\" must be an object, got {Kind(inner)}");
                return FromObject(inner, source);
            }
            return FromObject(root, source);
        }
    }

    private static Schedule FromObject(JsonElement o, string source)
    {
        foreach (JsonProperty p in o.EnumerateObject())
            if (!Fields.Contains(p.Name))
                throw new SpecException($"{source}: unknown field \"{p.Name}\" (expected {string.Join(", ", Fields)})");
        if (!o.TryGetProperty("policy", out JsonElement policyElement))
            throw new SpecException($"{source}: missing \"policy\" (rra, waa-c, waa-m, static or continuous)");
        if (policyElement.ValueKind != JsonValueKind.String)
            throw new SpecException($"{source}: \"policy\" must be a string (rra, waa-c, waa-m, static or continuous), got {Kind(policyElement)}");
        Policy policy;
        try
        {
            policy = PolicyNames.Parse(policyElement.GetString()!);
        }
        catch (SpecException e)
        {
            throw new SpecException($"{source}: \"policy\": {e.Message}", e);
        }
        if (!o.TryGetProperty("encoder_batch", out _))
            throw new SpecException($"{source}: missing \"encoder_batch\" (B_E, a positive integer)");
        var defaults = new Schedule(policy, 1);
        return new Schedule(policy,
            Int(o, "encoder_batch", 1, 1, source),
            Int(o, "decode_iterations", defaults.DecodeIterations, 0, source),
            Int(o, "tp_degree", defaults.TpDegree, 1, source),
            Int(o, "tp_groups", defaults.TpGroups, 0, source),
            Int(o, "micro_batches", defaults.MicroBatches, 0, source),
            Int(o, "devices", defaults.Devices, 0, source));
    }

    private static int Int(JsonElement o, string name, int fallback, int minimum, string source)
    {
        if (!o.TryGetProperty(name, out JsonElement e))
            return fallback;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int value))
            throw new SpecException($"{source}: \"{name}\" must be an integer, got {Kind(e)} {e.GetRawText()}");
        if (value < minimum)
            throw new SpecException($"{source}: \"{name}\" must be at least {minimum}, got {value}");
        return value;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>Writes <paramref name="schedule"/> as one JSON object (every field).</summary>
    public static void Write(Utf8JsonWriter writer, Schedule schedule)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(schedule);
        writer.WriteStartObject();
        writer.WriteString("policy", PolicyNames.Name(schedule.Policy));
        writer.WriteNumber("encoder_batch", schedule.EncoderBatch);
        writer.WriteNumber("decode_iterations", schedule.DecodeIterations);
        writer.WriteNumber("tp_degree", schedule.TpDegree);
        writer.WriteNumber("tp_groups", schedule.TpGroups);
        writer.WriteNumber("micro_batches", schedule.MicroBatches);
        writer.WriteNumber("devices", schedule.Devices);
        writer.WriteEndObject();
    }

    /// <summary>The JSON text of <paramref name="schedule"/>.</summary>
    public static string ToJson(Schedule schedule, bool indented = false) =>
        JsonText.Of(w => Write(w, schedule), indented);
}
