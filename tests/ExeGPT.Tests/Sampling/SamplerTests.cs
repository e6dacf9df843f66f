using ExeGPT.Tests.Gpu;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Sampling;

/// <summary>
/// The native sampler: greedy is argmax, seeded draws repeat, and the empirical distribution of many
/// draws matches softmax(logits / T) restricted by top-k / top-p. Seeds are fixed, so the statistical
/// bounds (chi-square at p = 1e-4) make a test either always pass or always fail.
/// </summary>
[TestFixture]
public sealed class SamplerTests
{
    private static readonly SamplingOptions Greedy = new(Greedy: true);

    [Test]
    public void GreedyIsArgmax()
    {
        const int rows = 50, vocab = 97;
        var logits = RandomLogits(rows, vocab, seed: 1);
        var tokens = Sample(logits, rows, vocab, Greedy, seed: 0);
        for (int r = 0; r < rows; r++)
        {
            Assert.That(tokens[r], Is.EqualTo(GreedyAssert.Argmax(logits.AsSpan(r * vocab, vocab))), $"row {r}");
        }
    }

    [Test]
    public void GreedyBreaksTiesTowardTheLowestIndex()
    {
        float[] logits = [1, 3, 3, 2, /* row 2 */ -1, -1, -1, -1, /* row 3 */ 0, 0, 5, 5];
        Assert.That(Sample(logits, 3, 4, Greedy, seed: 0), Is.EqualTo(new[] { 1, 0, 2 }));
    }

    [Test]
    public void SeededSamplingRepeatsAndDifferentSeedsDiffer()
    {
        const int rows = 200, vocab = 16;
        var logits = new float[rows * vocab]; // uniform: the most room for two streams to disagree
        var options = new SamplingOptions(Greedy: false);
        var first = Sample(logits, rows, vocab, options, seed: 42);
        var again = Sample(logits, rows, vocab, options, seed: 42);
        var other = Sample(logits, rows, vocab, options, seed: 43);
        Assert.That(again, Is.EqualTo(first));
        Assert.That(other, Is.Not.EqualTo(first));
    }

    [Test]
    public void StatesAdvanceSoRepeatedCallsDiffer()
    {
        const int vocab = 16;
        var logits = new float[vocab];
        var state = new[] { Sampler.RngInit(7, 0) };
        var drawn = new int[64];
        for (int i = 0; i < drawn.Length; i++)
        {
            var token = new int[1];
            Sampler.Sample(logits, 1, vocab, new SamplingOptions(Greedy: false), state, token);
            drawn[i] = token[0];
        }

        Assert.That(drawn.Distinct().Count(), Is.GreaterThan(8), "64 uniform draws over 16 tokens hit only a few values");
    }

    [Test]
    public void StreamsOfOneSeedAreDistinct() =>
        Assert.That(Enumerable.Range(0, 8).Select(s => Sampler.RngInit(5, (ulong)s)).Distinct().Count(), Is.EqualTo(8));

    [Test]
    public void TopKOfOneIsGreedy()
    {
        const int rows = 50, vocab = 97;
        var logits = RandomLogits(rows, vocab, seed: 2);
        Assert.That(Sample(logits, rows, vocab, new SamplingOptions(false, TopK: 1), seed: 9),
            Is.EqualTo(Sample(logits, rows, vocab, Greedy, seed: 9)));
    }

    [Test]
    public void TinyTopPIsGreedy()
    {
        const int rows = 50, vocab = 97;
        var logits = RandomLogits(rows, vocab, seed: 3);
        Assert.That(Sample(logits, rows, vocab, new SamplingOptions(false, TopP: 1e-6f), seed: 9),
            Is.EqualTo(Sample(logits, rows, vocab, Greedy, seed: 9)));
    }

    [TestCase(1.0f)]
    [TestCase(0.5f)]
    [TestCase(2.0f)]
    public void FrequenciesFollowSoftmaxOverTemperature(float temperature)
    {
        float[] logits = [1.0f, 0.5f, 0f, -0.5f, 2.0f, 0.2f];
        var expected = Softmax(logits.Select(l => l / (double)temperature).ToArray());
        var counts = Draw(logits, new SamplingOptions(false, Temperature: temperature), draws: 30000, seed: 11);
        AssertChiSquare(counts, expected, criticalValue: 25.7); // df 5, p = 1e-4
    }

    [Test]
    public void TopKRenormalisesOverTheKBest()
    {
        float[] logits = [1.0f, 0.5f, 0f, -0.5f, 2.0f, 0.2f];
        var counts = Draw(logits, new SamplingOptions(false, TopK: 3), draws: 30000, seed: 12);
        Assert.That(counts[2] + counts[3] + counts[5], Is.Zero, "a token outside the top 3 was drawn");
        var kept = Softmax([1.0, 0.5, 2.0]);
        AssertChiSquare([counts[0], counts[1], counts[4]], kept, criticalValue: 18.4); // df 2
    }

    [Test]
    public void TopPKeepsTheSmallestNucleus()
    {
        // Probabilities 0.5, 0.3, 0.15, 0.05: the smallest set reaching 0.7 is {0, 1}.
        float[] logits = [.. new[] { 0.5, 0.3, 0.15, 0.05 }.Select(p => (float)Math.Log(p))];
        var counts = Draw(logits, new SamplingOptions(false, TopP: 0.7f), draws: 20000, seed: 13);
        Assert.That(counts[2] + counts[3], Is.Zero, "a token outside the nucleus was drawn");
        AssertChiSquare([counts[0], counts[1]], [0.625, 0.375], criticalValue: 15.1); // df 1
    }

    [Test]
    public void VeryLowTemperatureIsGreedy()
    {
        const int rows = 50, vocab = 97;
        var logits = RandomLogits(rows, vocab, seed: 4);
        for (int r = 0; r < rows; r++)
        {
            // A clear winner per row: at T = 1e-4 a margin of 0.5 leaves the runner-up e^-5000.
            logits[r * vocab + GreedyAssert.Argmax(logits.AsSpan(r * vocab, vocab))] += 0.5f;
        }

        Assert.That(Sample(logits, rows, vocab, new SamplingOptions(false, Temperature: 1e-4f), seed: 9),
            Is.EqualTo(Sample(logits, rows, vocab, Greedy, seed: 9)));
    }

    [TestCase(0f, 0, 1f, "temperature")]
    [TestCase(-1f, 0, 1f, "temperature")]
    [TestCase(1f, 0, 0f, "top_p")]
    [TestCase(1f, 0, 1.5f, "top_p")]
    public void InvalidParametersAreRejected(float temperature, int topK, float topP, string field)
    {
        var options = new SamplingOptions(false, temperature, topK, topP);
        ErrorAssert.Throws(() => Sample(new float[8], 1, 8, options, seed: 1), exg_status.EXG_ERR_INVALID_ARGUMENT, field);
        EngineHealth.AssertTinyGenerationWorks();
    }

    private static int[] Sample(float[] logits, int rows, int vocab, SamplingOptions options, ulong seed)
    {
        var states = Enumerable.Range(0, rows).Select(r => Sampler.RngInit(seed, (ulong)r)).ToArray();
        var tokens = new int[rows];
        Sampler.Sample(logits, rows, vocab, options, states, tokens);
        return tokens;
    }

    /// <summary>Many rows of the same logits, each row its own stream of one seed; counts per token.</summary>
    private static int[] Draw(float[] logits, SamplingOptions options, int draws, ulong seed)
    {
        var repeated = new float[draws * logits.Length];
        for (int r = 0; r < draws; r++)
        {
            logits.CopyTo(repeated, r * logits.Length);
        }

        var counts = new int[logits.Length];
        foreach (int token in Sample(repeated, draws, logits.Length, options, seed))
        {
            counts[token]++;
        }

        return counts;
    }

    private static void AssertChiSquare(int[] counts, double[] probabilities, double criticalValue)
    {
        double n = counts.Sum();
        double chi2 = counts.Select((c, i) => (c - n * probabilities[i]) * (c - n * probabilities[i]) / (n * probabilities[i])).Sum();
        Assert.That(chi2, Is.LessThan(criticalValue),
            $"counts [{string.Join(", ", counts)}] vs expected [{string.Join(", ", probabilities.Select(p => (n * p).ToString("F0")))}]");
    }

    private static double[] Softmax(double[] x)
    {
        double max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static float[] RandomLogits(int rows, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, rows * vocab).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
    }
}
