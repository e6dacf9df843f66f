using System.Text.Json;

namespace ExeGPT.Tests.Cli;

/// <summary>One case of the documented generate JSON: {"cases":[{"prompt":[..],"generated":[..],"logits":[[..]]}]}.</summary>
public sealed record DumpedCase(int[] Prompt, int[] Generated, float[][]? Logits);

/// <summary>Reads that document strictly, so a renamed or extra field fails the test rather than being skipped.</summary>
public static class GenerationDump
{
    public static DumpedCase[] Parse(string json, bool expectLogits)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.That(root.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "cases" }), "top-level fields");
        string[] fields = expectLogits ? ["prompt", "generated", "logits"] : ["prompt", "generated"];
        return
        [
            .. root.GetProperty("cases").EnumerateArray().Select(c =>
            {
                Assert.That(c.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(fields), "fields of a case");
                return new DumpedCase(
                    Ints(c.GetProperty("prompt")),
                    Ints(c.GetProperty("generated")),
                    expectLogits ? [.. c.GetProperty("logits").EnumerateArray().Select(Floats)] : null);
            }),
        ];
    }

    private static int[] Ints(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetInt32())];

    private static float[] Floats(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetSingle())];
}
