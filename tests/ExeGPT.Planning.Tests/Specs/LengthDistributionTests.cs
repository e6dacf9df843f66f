using ExeGPT.Core;
using ExeGPT.Core.Workloads;

namespace ExeGPT.Planning.Tests.Specs;

public class LengthDistributionTests
{
    // Weights 1, 0, 3, 4 on lengths 2..5 → P = 0.125, 0, 0.375, 0.5.
    // Mean = 2·0.125 + 4·0.375 + 5·0.5 = 4.25; E[L²] = 0.5 + 6 + 12.5 = 19; var = 19 − 18.0625 = 0.9375.
    private static LengthDistribution Hand() => new("hand", 2, [1, 0, 3, 4]);

    [Test]
    public void MomentsOfAHandMadePmf()
    {
        LengthDistribution d = Hand();
        Assert.Multiple(() =>
        {
            Assert.That((d.Min, d.Max), Is.EqualTo((2, 5)));
            Assert.That(d.Mean, Is.EqualTo(4.25).Within(1e-12));
            Assert.That(d.Std, Is.EqualTo(Math.Sqrt(0.9375)).Within(1e-12));
            Assert.That(d.Probability(3), Is.EqualTo(0));
            Assert.That(d.Probability(4), Is.EqualTo(0.375).Within(1e-15));
            Assert.That(d.Probability(9), Is.EqualTo(0));
            Assert.That(d.Expectation(l => l * l), Is.EqualTo(19).Within(1e-12));
        });
    }

    [Test]
    public void CdfAndQuantile()
    {
        LengthDistribution d = Hand();
        Assert.Multiple(() =>
        {
            Assert.That(d.Cdf(1), Is.EqualTo(0));
            Assert.That(d.Cdf(2), Is.EqualTo(0.125).Within(1e-15));
            Assert.That(d.Cdf(3), Is.EqualTo(0.125).Within(1e-15));
            Assert.That(d.Cdf(4), Is.EqualTo(0.5).Within(1e-15));
            Assert.That(d.Cdf(5), Is.EqualTo(1));
            Assert.That(d.Quantile(0.1), Is.EqualTo(2));
            Assert.That(d.Quantile(0.125), Is.EqualTo(2));     // the smallest length whose CDF reaches p
            Assert.That(d.Quantile(0.2), Is.EqualTo(4));
            Assert.That(d.Quantile(0.5), Is.EqualTo(4));
            Assert.That(d.Quantile(0.51), Is.EqualTo(5));
            Assert.That(d.Quantile(1), Is.EqualTo(5));
            Assert.That(d.Sample(0), Is.EqualTo(2));
            Assert.That(d.Sample(0.999999), Is.EqualTo(5));
        });
    }

    [Test]
    public void ZeroEndsAreTrimmed()
    {
        var d = new LengthDistribution("trim", 1, [0, 0, 2, 2, 0]);
        Assert.That((d.Min, d.Max, d.Mean), Is.EqualTo((3, 4, 3.5)));
    }

    [Test]
    public void InvalidWeightsAreRejected()
    {
        Assert.That(() => new LengthDistribution("x", 0, [1.0]), Throws.TypeOf<SpecException>());
        Assert.That(() => new LengthDistribution("x", 1, [0.0, 0.0]), Throws.TypeOf<SpecException>());
        Assert.That(() => new LengthDistribution("x", 1, [1.0, -1.0]), Throws.TypeOf<SpecException>());
        Assert.That(() => new LengthDistribution("x", 1, [double.NaN]), Throws.TypeOf<SpecException>());
    }
}
