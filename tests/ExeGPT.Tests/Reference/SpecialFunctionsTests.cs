namespace ExeGPT.Tests.Reference;

/// <summary>The reference is only as good as its erf; pin it to known values (libm's erf, 17 digits).</summary>
[TestFixture]
public sealed class SpecialFunctionsTests
{
    [TestCase(0.0, 0.0)]
    [TestCase(0.1, 0.1124629160182849)]
    [TestCase(0.5, 0.5204998778130465)]
    [TestCase(1.0, 0.8427007929497149)]
    [TestCase(-1.5, -0.9661051464753108)]
    [TestCase(2.0, 0.9953222650189527)]
    [TestCase(2.5, 0.999593047982555)] // the switch from series to continued fraction
    [TestCase(3.0, 0.9999779095030014)]
    [TestCase(3.5, 0.9999992569016276)]
    [TestCase(5.0, 0.9999999999984626)]
    [TestCase(9.0, 1.0)]
    public void ErfMatchesKnownValues(double x, double expected) =>
        Assert.That(SpecialFunctions.Erf(x), Is.EqualTo(expected).Within(1e-14));

    [Test]
    public void ErfIsContinuousAcrossTheMethodSwitch()
    {
        double below = SpecialFunctions.Erf(Math.BitDecrement(2.5));
        double at = SpecialFunctions.Erf(2.5);
        Assert.That(at - below, Is.InRange(0.0, 1e-14));
    }

    [TestCase(-3.0, -0.00404969409489031, -0.0036373920817729943)]
    [TestCase(-1.0, -0.15865525393145707, -0.15880800939172324)]
    [TestCase(0.5, 0.34573123063700656, 0.34571400982514394)]
    [TestCase(2.0, 1.9544997361036416, 1.954597694087775)]
    public void GeluVariantsMatchTheirDefinitions(double x, double exact, double tanhApprox)
    {
        Assert.That(SpecialFunctions.Gelu(x), Is.EqualTo(exact).Within(1e-14));
        Assert.That(SpecialFunctions.GeluTanh(x), Is.EqualTo(tanhApprox).Within(1e-14));
    }

    [Test]
    public void UnknownActivationIsRejected() =>
        Assert.Throws<ArgumentException>(() => SpecialFunctions.Activation("swish_typo"));
}
