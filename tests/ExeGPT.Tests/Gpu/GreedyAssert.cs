using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Gpu;

/// <summary>Greedy choices of a half-precision engine against an F32/F64 one. Exact token equality is too strict:
/// where the two best logits are closer than the storage precision, either is a correct argmax, and after one such
/// step the continuations legitimately part. So each step is judged on its own (teacher forcing on the tokens
/// actually generated): the chosen token's reference logit must be within <c>tolerance x max |logit|</c> of the best.</summary>
public static class GreedyAssert
{
    /// <summary>Each of <paramref name="generated"/> is a greedy choice of <paramref name="reference"/> after the
    /// prompt and the tokens before it, up to the tolerance.</summary>
    public static void FollowsReference(OptReference reference, IReadOnlyList<int> prompt, IReadOnlyList<int> generated,
        double tolerance, string what)
    {
        var sequence = new List<int>(prompt);
        for (int k = 0; k < generated.Count; k++)
        {
            double[] row = reference.LastLogits(sequence);
            IsNearBest(row, generated[k], tolerance, $"{what}, token {k}");
            sequence.Add(generated[k]);
        }
    }

    /// <summary><paramref name="chosen"/>'s logit in <paramref name="row"/> is within tolerance x max |row| of the best.</summary>
    public static void IsNearBest(IReadOnlyList<double> row, int chosen, double tolerance, string what)
    {
        int best = 0;
        double scale = 0;
        for (int i = 0; i < row.Count; i++)
        {
            if (row[i] > row[best])
                best = i;
            scale = Math.Max(scale, Math.Abs(row[i]));
        }
        Assert.That(chosen, Is.InRange(0, row.Count - 1), $"{what}: token id");
        double shortfall = row[best] - row[chosen];
        Assert.That(shortfall, Is.LessThanOrEqualTo(tolerance * scale),
            $"{what}: picked {chosen} (logit {row[chosen]:G6}) where the reference's best is {best} ({row[best]:G6}); " +
            $"the gap exceeds {tolerance:E1} x {scale:G4}");
    }

    public static int Argmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best])
                best = i;
        return best;
    }
}
