using ExeGPT.Core;
using ExeGPT.Core.Workloads;

namespace ExeGPT.Planning.Tests.Specs;

public class TruncatedNormalTests
{
    // The definition, integrated directly: P(k) ∝ ∫_{k−½}^{k+½} φ((x−μ)/σ) dx by composite Simpson.
    private static double[] DirectPmf(double mu, double sigma, int min, int max)
    {
        var p = new double[max - min + 1];
        double total = 0;
        for (int k = min; k <= max; k++)
        {
            const int n = 200;
            double a = k - 0.5, h = 1.0 / n, sum = Density(a) + Density(a + 1);
            for (int i = 1; i < n; i++)
                sum += (i % 2 == 1 ? 4 : 2) * Density(a + i * h);
            p[k - min] = sum * h / 3;
            total += p[k - min];
        }
        for (int i = 0; i < p.Length; i++) p[i] /= total;
        return p;

        double Density(double x) => Math.Exp(-0.5 * ((x - mu) / sigma) * ((x - mu) / sigma));
    }

    [TestCase(50, 20, 1, 120)]
    [TestCase(256, 252, 1, 512)]   // task S input: most mass beyond the range on both sides
    [TestCase(-10, 15, 1, 40)]     // mean below the range: a decaying tail
    [TestCase(3, 0.7, 2, 6)]       // narrow: a few lengths
    public void PmfMatchesDirectIntegration(double mu, double sigma, int min, int max)
    {
        LengthDistribution d = TruncatedNormal.Create("t", mu, sigma, max, min);
        double[] expected = DirectPmf(mu, sigma, min, max);
        for (int k = min; k <= max; k++)
            Assert.That(d.Probability(k), Is.EqualTo(expected[k - min]).Within(1e-9), $"P({k})");
    }

    [Test]
    public void MeanAndStdAreThoseOfTheTruncation()
    {
        // N(50, 20²) on [1, 120]: dropping the lower tail (2.4%) lifts the mean a little and narrows it.
        LengthDistribution d = TruncatedNormal.Create("t", 50, 20, 120);
        double[] p = DirectPmf(50, 20, 1, 120);
        double mean = 0, second = 0;
        for (int i = 0; i < p.Length; i++) { mean += p[i] * (i + 1); second += p[i] * (i + 1) * (i + 1); }
        Assert.That(d.Mean, Is.EqualTo(mean).Within(1e-7));
        Assert.That(d.Std, Is.EqualTo(Math.Sqrt(second - mean * mean)).Within(1e-7));
        Assert.That(d.Mean, Is.GreaterThan(50));
        Assert.That(d.Std, Is.LessThan(20));
    }

    [Test]
    public void InvalidArgumentsAreRejected()
    {
        Assert.That(() => TruncatedNormal.Create("s", 10, 0, 100), Throws.TypeOf<SpecException>().With.Message.Contain("std"));
        Assert.That(() => TruncatedNormal.Create("s", 10, -1, 100), Throws.TypeOf<SpecException>().With.Message.Contain("std"));
        Assert.That(() => TruncatedNormal.Create("s", 10, 5, 4, 8), Throws.TypeOf<SpecException>().With.Message.Contain("below the minimum"));
        Assert.That(() => TruncatedNormal.Create("s", 10, 5, 40, 0), Throws.TypeOf<SpecException>().With.Message.Contain("start at 1"));
        Assert.That(() => TruncatedNormal.Create("s", double.NaN, 5, 40), Throws.TypeOf<SpecException>().With.Message.Contain("mean"));
        Assert.That(() => TruncatedNormal.Create("far", 1e6, 1, 512),
            Throws.TypeOf<SpecException>().With.Message.Contain("far").And.Message.Contain("1..512"));
    }

    [Test]
    public void FromMomentsHitsTheTargetMoments()
    {
        LengthDistribution d = TruncatedNormal.FromMoments("T out", 128, 68, 320);
        Assert.That(d.Mean, Is.EqualTo(128).Within(1e-6));
        Assert.That(d.Std, Is.EqualTo(68).Within(1e-6));
        // The underlying normal, found independently by a fixed-point iteration in Python: N(117.5, 80.1²).
        Assert.That(TruncatedNormal.TrySolveMoments(128, 68, 1, 320, out double mu, out double sigma), Is.True);
        Assert.That(mu, Is.EqualTo(117.5).Within(0.1));
        Assert.That(sigma, Is.EqualTo(80.1).Within(0.1));
    }

    [Test]
    public void FromMomentsRejectsUnreachableMoments()
    {
        // The discrete uniform on 1..512 has std √((512² − 1)/12) = 147.8: no truncated normal exceeds it.
        Assert.That(() => TruncatedNormal.FromMoments("S in", 256, 252, 512),
            Throws.TypeOf<SpecException>().With.Message.Contain("147.8"));
        Assert.That(TruncatedNormal.TryFromMoments("S in", 256, 252, 512, 1, out LengthDistribution? none), Is.False);
        Assert.That(none, Is.Null);
        Assert.That(() => TruncatedNormal.FromMoments("edge", 512, 10, 512), Throws.TypeOf<SpecException>().With.Message.Contain("strictly between"));
    }
}
