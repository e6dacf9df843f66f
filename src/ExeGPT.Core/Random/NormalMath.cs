namespace ExeGPT.Core.Random;

/// <summary>The error function and the standard normal distribution, to near double precision, with
/// tails computed directly (not as 1 − something) so tiny probabilities keep their relative accuracy.</summary>
public static class NormalMath
{
    private const double TwoOverSqrtPi = 1.1283791670955126;   // 2/√π
    private const double OneOverSqrtPi = 0.5641895835477563;   // 1/√π
    private const double Sqrt2 = 1.4142135623730951;
    // erf uses its series below 3 and 1 − erfc above; erfc switches to the continued fraction from 1.5,
    // where 1 − erf would already lose digits to cancellation (about 91 terms there, fewer beyond).
    private const double ErfSeriesLimit = 3.0;
    private const double ErfcSeriesLimit = 1.5;

    /// <summary>erf(x) = 2/√π ∫₀ˣ e^(−t²) dt.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        double value = ax < ErfSeriesLimit ? ErfSeries(ax) : 1 - ErfcContinuedFraction(ax);
        return x < 0 ? -value : value;
    }

    /// <summary>erfc(x) = 1 − erf(x), accurate relative to itself for large x.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0)
            return 1 + Erf(-x);
        return x < ErfcSeriesLimit ? 1 - ErfSeries(x) : ErfcContinuedFraction(x);
    }

    /// <summary>Φ(z) = P(Z ≤ z) for a standard normal Z.</summary>
    public static double Cdf(double z) => 0.5 * Erfc(-z / Sqrt2);

    /// <summary>1 − Φ(z) = P(Z &gt; z), accurate in the upper tail.</summary>
    public static double UpperTail(double z) => 0.5 * Erfc(z / Sqrt2);

    /// <summary>P(a &lt; Z ≤ b) for a ≤ b, taken from whichever tail avoids cancellation.</summary>
    public static double Interval(double a, double b) =>
        a >= 0 ? UpperTail(a) - UpperTail(b) : Cdf(b) - Cdf(a);

    /// <summary>The standard normal density φ(z).</summary>
    public static double Pdf(double z) => 0.3989422804014327 * Math.Exp(-0.5 * z * z);

    /// <summary>Φ⁻¹(p) for p in (0, 1); −∞ at 0 and +∞ at 1.</summary>
    public static double InverseCdf(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1)
            throw new ArgumentOutOfRangeException(nameof(p), p, "a probability must be in [0, 1]");
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;
        if (p == 0.5) return 0;

        // Work in the smaller tail q = min(p, 1 − p) so its relative precision is kept.
        bool upper = p > 0.5;
        double q = upper ? 1 - p : p;

        // Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) as the start...
        double t = Math.Sqrt(-2 * Math.Log(q));
        double x = -(t - (2.515517 + t * (0.802853 + t * 0.010328))
                       / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
        // ...then Halley steps on Φ(x) = q (cubic convergence): three take 4.5e-4 below 1e-15.
        for (int i = 0; i < 3; i++)
        {
            double density = Pdf(x);
            if (density == 0) break;
            double r = (Cdf(x) - q) / density;
            x -= r / (1 + 0.5 * x * r);
        }
        return upper ? -x : x;
    }

    // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): all terms positive, so no cancellation.
    private static double ErfSeries(double x)
    {
        double x2 = x * x;
        double term = x, sum = x;
        for (int n = 1; n < 200; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }

    // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) by the modified Lentz method;
    // converges in under a hundred terms for x ≥ 1.5.
    private static double ErfcContinuedFraction(double x)
    {
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double a = 0.5 * n;
            d = x + a * d;
            if (d == 0) d = tiny;
            d = 1 / d;
            c = x + a / c;
            if (c == 0) c = tiny;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return OneOverSqrtPi * Math.Exp(-x * x) / f;
    }
}
