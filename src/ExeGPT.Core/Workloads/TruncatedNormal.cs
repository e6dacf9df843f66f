using System.Globalization;
using ExeGPT.Core.Random;

namespace ExeGPT.Core.Workloads;

/// <summary>Discretised truncated normal length distributions, the paper's synthetic workload model
/// (Table 3: "truncated normal, truncated below zero", each task with a maximum length).</summary>
/// <remarks>Length k gets the normal's mass on (k − ½, k + ½]; the mass below <c>min − ½</c> and above
/// <c>max + ½</c> is dropped and the rest renormalised. Two ways to name the normal:
/// <see cref="Create"/> takes the underlying normal's μ and σ, which is the only reading under which every
/// Table 3 row is a valid distribution (task S's input std 252 with maximum 512 exceeds the std of any
/// log-concave distribution on [1, 512], so it cannot be the truncated distribution's own std);
/// <see cref="FromMoments"/> solves for the μ and σ whose truncated distribution has a given mean and
/// std, which is how Table 3's output columns read (it reproduces their 99th percentiles).</remarks>
public static class TruncatedNormal
{
    /// <summary>Longest range of lengths a distribution may span (4 Mi tokens: beyond any model).</summary>
    public const int MaxSpan = 1 << 22;

    // Below this much of the normal's mass inside [min, max], the range is a mistake, not a tail.
    private const double MinimumMass = 1e-12;

    /// <summary>The normal N(<paramref name="mean"/>, <paramref name="std"/>²) discretised to the integers
    /// <paramref name="min"/>..<paramref name="max"/> (see the type's remarks).</summary>
    /// <exception cref="SpecException">std not positive, max &lt; min, min &lt; 1, or a range holding
    /// (almost) none of the normal's mass.</exception>
    public static LengthDistribution Create(string description, double mean, double std, int max, int min = 1)
    {
        CheckArguments(description, mean, std, max, min);
        var weights = new double[max - min + 1];
        double total = Discretise(mean, std, min, weights);
        if (!(total >= MinimumMass))
            throw new SpecException(string.Create(CultureInfo.InvariantCulture,
                $"{description}: a normal with mean {mean} and std {std} puts {total:G3} of its mass on lengths {min}..{max}; the range must hold a real share of it (at least {MinimumMass:G1})"));
        return new LengthDistribution(description, min, weights);
    }

    /// <summary>The truncated normal on <paramref name="min"/>..<paramref name="max"/> whose own mean and
    /// std are <paramref name="mean"/> and <paramref name="std"/>.</summary>
    /// <exception cref="SpecException">No truncated normal on that range has those moments (e.g. a std at
    /// or above the discrete uniform's), or the arguments are invalid as for <see cref="Create"/>.</exception>
    public static LengthDistribution FromMoments(string description, double mean, double std, int max, int min = 1)
    {
        CheckArguments(description, mean, std, max, min);
        if (!TrySolveMoments(mean, std, min, max, out double mu, out double sigma, out string why))
            throw new SpecException(string.Create(CultureInfo.InvariantCulture,
                $"{description}: no truncated normal on lengths {min}..{max} has mean {mean} and std {std} ({why})"));
        return Create(description, mu, sigma, max, min);
    }

    /// <summary>As <see cref="FromMoments"/>, but returns false (and null) when no truncated normal has those
    /// moments; invalid arguments still throw.</summary>
    public static bool TryFromMoments(string description, double mean, double std, int max, int min,
        out LengthDistribution? distribution)
    {
        CheckArguments(description, mean, std, max, min);
        distribution = TrySolveMoments(mean, std, min, max, out double mu, out double sigma, out _)
            ? Create(description, mu, sigma, max, min)
            : null;
        return distribution is not null;
    }

    /// <summary>The underlying normal's (μ, σ) that <see cref="FromMoments"/> would use, or false.</summary>
    public static bool TrySolveMoments(double mean, double std, int min, int max, out double mu, out double sigma)
        => TrySolveMoments(mean, std, min, max, out mu, out sigma, out _);

    private static void CheckArguments(string description, double mean, double std, int max, int min)
    {
        string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        if (!double.IsFinite(mean))
            throw new SpecException(Invariant($"{description}: mean must be a finite number, got {mean}"));
        if (!(std > 0) || !double.IsFinite(std))
            throw new SpecException(Invariant($"{description}: std must be a positive finite number, got {std}"));
        if (min < 1)
            throw new SpecException(Invariant($"{description}: lengths start at 1, got a minimum of {min}"));
        if (max < min)
            throw new SpecException(Invariant($"{description}: maximum length {max} is below the minimum {min}"));
        if ((long)max - min + 1 > MaxSpan)
            throw new SpecException(Invariant($"{description}: lengths {min}..{max} span more than {MaxSpan} values"));
    }

    // Fills weights[i] with the normal's mass on (min + i − ½, min + i + ½]; returns their sum. Each bin
    // boundary's tail is evaluated once, from the side that keeps relative precision.
    private static double Discretise(double mu, double sigma, int min, double[] weights)
    {
        double total = 0;
        double lowerZ = (min - 0.5 - mu) / sigma;
        double lowerTail = Tail(lowerZ);
        for (int i = 0; i < weights.Length; i++)
        {
            double upperZ = (min + i + 0.5 - mu) / sigma;
            double upperTail = Tail(upperZ);
            // Tail(z) is Φ(z) for z < 0 and 1 − Φ(z) for z ≥ 0.
            double w = lowerZ >= 0 ? lowerTail - upperTail
                : upperZ < 0 ? upperTail - lowerTail
                : 1 - lowerTail - upperTail;
            weights[i] = Math.Max(0, w);
            total += weights[i];
            lowerZ = upperZ;
            lowerTail = upperTail;
        }
        return total;
    }

    private static double Tail(double z) => z < 0 ? NormalMath.Cdf(z) : NormalMath.UpperTail(z);

    // Mean and std of the discretised truncated normal; NaN when the range holds no representable mass.
    private static (double Mean, double Std) Moments(double mu, double sigma, int min, double[] scratch)
    {
        double total = Discretise(mu, sigma, min, scratch);
        if (!(total > 0)) return (double.NaN, double.NaN);
        double mean = 0, second = 0;
        for (int i = 0; i < scratch.Length; i++)
        {
            double p = scratch[i] / total, offset = i;   // moments about min keep the sums small
            mean += p * offset;
            second += p * offset * offset;
        }
        return (min + mean, Math.Sqrt(Math.Max(0, second - mean * mean)));
    }

    // Damped Newton on (μ, ln σ) with a finite-difference Jacobian, started at the target moments.
    private static bool TrySolveMoments(double mean, double std, int min, int max,
        out double mu, out double sigma, out string why)
    {
        mu = sigma = double.NaN;
        long n = (long)max - min + 1;
        // A discretised truncated normal is log-concave, and a log-concave distribution on n consecutive
        // integers is never more spread than the discrete uniform: std² < (n² − 1)/12.
        double uniformStd = Math.Sqrt((n * (double)n - 1) / 12.0);
        if (!(mean > min && mean < max))
        {
            why = "the mean must lie strictly between the minimum and the maximum";
            return false;
        }
        if (std >= uniformStd)
        {
            why = string.Create(CultureInfo.InvariantCulture,
                $"the std must be below {uniformStd:F1}, the discrete uniform's on that range");
            return false;
        }

        var scratch = new double[n];
        double m = mean, logS = Math.Log(std);
        (double fm, double fs) = Residual(m, logS);
        double norm = Norm(fm, fs);
        double tolerance = 1e-9 * Math.Max(1, std);
        double maxLogS = Math.Log(1e6 * n);
        for (int iteration = 0; iteration < 100 && norm > tolerance; iteration++)
        {
            double s = Math.Exp(logS);
            double hm = 1e-6 * s, hl = 1e-6;
            (double am, double as_) = Residual(m + hm, logS);
            (double bm, double bs) = Residual(m, logS + hl);
            double j11 = (am - fm) / hm, j21 = (as_ - fs) / hm;   // ∂(mean, std)/∂μ
            double j12 = (bm - fm) / hl, j22 = (bs - fs) / hl;    // ∂(mean, std)/∂ln σ
            double det = j11 * j22 - j12 * j21;
            if (!double.IsFinite(det) || det == 0) break;
            double dm = -(j22 * fm - j12 * fs) / det;
            double dl = -(-j21 * fm + j11 * fs) / det;

            // Halve the step until the residual shrinks.
            bool improved = false;
            for (double scale = 1; scale > 1e-6; scale *= 0.5)
            {
                double tm = m + scale * dm, tl = logS + scale * dl;
                if (tl > maxLogS) continue;
                (double rm, double rs) = Residual(tm, tl);
                double rn = Norm(rm, rs);
                if (rn < norm)
                {
                    (m, logS, fm, fs, norm, improved) = (tm, tl, rm, rs, rn, true);
                    break;
                }
            }
            if (!improved) break;
        }

        if (norm > tolerance)
        {
            why = string.Create(CultureInfo.InvariantCulture,
                $"the closest one found is {norm:G3} tokens away");
            return false;
        }
        mu = m;
        sigma = Math.Exp(logS);
        why = "";
        return true;

        (double, double) Residual(double tryMu, double tryLogS)
        {
            (double gm, double gs) = Moments(tryMu, Math.Exp(tryLogS), min, scratch);
            return (gm - mean, gs - std);
        }

        static double Norm(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.PositiveInfinity : Math.Max(Math.Abs(a), Math.Abs(b));
    }
}
