using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runtime;

/// <summary>Compares generated ids (and captured logit rows, when present) with a reference continuation.</summary>
public static class GenerationAssert
{
    public static void Matches(int[] generated, float[][]? logits, Continuation expected, string what)
    {
        Assert.That(generated, Is.EqualTo(expected.Tokens),
            $"{what}: generated ids differ from the reference's greedy continuation " +
            $"(smallest reference top-2 margin {expected.SmallestMargin:G3})");
        if (logits is null)
        {
            return;
        }

        Assert.That(logits, Has.Length.EqualTo(generated.Length), $"{what}: one logits row per generated token");
        for (int k = 0; k < logits.Length; k++)
        {
            LogitAssert.Close(logits[k], expected.Logits[k], LogitAssert.ReferenceTolerance, $"{what}, logits of generated token {k}");
        }
    }
}
