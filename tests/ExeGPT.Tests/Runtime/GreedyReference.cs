using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Runtime;

/// <summary>What greedy decoding of one prompt must produce: the tokens and, per token, the logits it was picked from.</summary>
/// <param name="Tokens">The generated ids.</param>
/// <param name="Logits">Row k: the reference logits after the prompt and Tokens[..k].</param>
/// <param name="SmallestMargin">The smallest gap between the best and second-best reference logit over all steps,
/// printed on a mismatch to tell a real bug from a near-tie the F32 engine may legitimately break otherwise.</param>
public sealed record Continuation(int[] Tokens, double[][] Logits, double SmallestMargin);

/// <summary>
/// Greedy generation done the slow, obvious way: every step reruns the reference on the whole sequence
/// so far and takes the argmax of the last row (lowest index on ties, like the sampler). No KV cache,
/// batching, sharding or sampler is involved, so it shares nothing with the runtime under test.
/// </summary>
public static class GreedyReference
{
    public static Continuation Generate(OptReference reference, IReadOnlyList<int> prompt, int newTokens, int? eosTokenId = null)
    {
        var sequence = new List<int>(prompt);
        var tokens = new List<int>();
        var logits = new List<double[]>();
        double margin = double.PositiveInfinity;
        for (int step = 0; step < newTokens; step++)
        {
            var row = reference.LastLogits(sequence);
            var (best, gap) = ArgmaxWithMargin(row);
            margin = Math.Min(margin, gap);
            tokens.Add(best);
            logits.Add(row);
            sequence.Add(best);
            if (best == eosTokenId)
            {
                break;
            }
        }

        return new Continuation([.. tokens], [.. logits], margin);
    }

    private static (int Index, double Margin) ArgmaxWithMargin(double[] row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        double second = double.NegativeInfinity;
        for (int i = 0; i < row.Length; i++)
        {
            if (i != best)
            {
                second = Math.Max(second, row[i]);
            }
        }

        return (best, row[best] - second);
    }
}
