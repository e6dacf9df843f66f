using System.Text.Json.Serialization;

namespace ExeGPT.Cli;

/// <summary>The JSON document of <c>generate --json</c> and <c>--dump-logits</c>.</summary>
internal sealed class GenerationDocument
{
    public required IReadOnlyList<GenerationCase> Cases { get; init; }
}

/// <summary>One prompt; <see cref="Logits"/> (one vocabulary row per generated token) only in dumps.</summary>
internal sealed class GenerationCase
{
    public required int[] Prompt { get; init; }
    public required int[] Generated { get; init; }
    public float[][]? Logits { get; init; }
}

// Source-generated so it survives trimming. Floats are written in their shortest round-trip form;
// non-finite logits (possible with a broken checkpoint) are written as "NaN"/"Infinity" rather
// than failing the whole dump.
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(GenerationDocument))]
internal sealed partial class GenerationJsonContext : JsonSerializerContext;
