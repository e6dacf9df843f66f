namespace ExeGPT.Tests.Support;

/// <summary>
/// Logit comparisons. The criterion is max_i |actual_i - expected_i| / max_i |expected_i|: the worst
/// element error relative to the largest logit, which is what decides sampling and does not blow up
/// on logits that happen to be near zero.
/// </summary>
public static class LogitAssert
{
    /// <summary>Tolerance for engine (F32 compute) vs the double-accumulating reference on the same weights.</summary>
    public const double ReferenceTolerance = 1e-4;

    /// <summary>Tolerance for two engine runs that may group the same sums differently (batching, TP, stages).</summary>
    public const double ReorderTolerance = 1e-5;

    private static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), "logit vector lengths differ");
        double maxDiff = 0;
        double scale = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i]))
            {
                return double.PositiveInfinity;
            }

            maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }

        return maxDiff / Math.Max(scale, 1e-30);
    }

    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double tolerance, string what)
    {
        double error = RelativeError(actual, expected);
        Assert.That(error, Is.LessThanOrEqualTo(tolerance),
            $"{what}: max |diff| / max |expected| = {error:E3} exceeds {tolerance:E1}");
    }

    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        var wide = new double[expected.Length];
        for (int i = 0; i < wide.Length; i++)
        {
            wide[i] = expected[i];
        }

        Close(actual, wide, tolerance, what);
    }

    /// <summary>Bit-for-bit equality, for runs that must repeat the very same computation.</summary>
    public static void Identical(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: lengths differ");
        for (int i = 0; i < actual.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
            }
        }
    }
}
