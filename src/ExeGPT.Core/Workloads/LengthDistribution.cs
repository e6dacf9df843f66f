namespace ExeGPT.Core.Workloads;

/// <summary>A distribution over integer sequence lengths in [<see cref="Min"/>, <see cref="Max"/>], stored
/// as a probability mass function. Immutable; every statistic is computed once.</summary>
public sealed class LengthDistribution
{
    private readonly double[] _pmf;   // _pmf[len - Min]
    private readonly double[] _cdf;   // _cdf[len - Min] = P(L <= len)

    /// <summary>Builds from non-negative weights for lengths Min, Min+1, ...; weights are normalised.</summary>
    public LengthDistribution(string description, int min, IReadOnlyList<double> weights)
    {
        if (min < 1)
            throw new SpecException($"{description}: lengths start at 1, got a minimum of {min}");
        if (weights.Count == 0)
            throw new SpecException($"{description}: no lengths");
        double total = 0;
        foreach (double w in weights)
        {
            if (!(w >= 0) || double.IsInfinity(w))
                throw new SpecException($"{description}: weight {w} is not a finite non-negative number");
            total += w;
        }
        if (!(total > 0))
            throw new SpecException($"{description}: the distribution has no mass");

        // Trim zero-mass ends so Min/Max are lengths that actually occur.
        int first = 0, last = weights.Count - 1;
        while (weights[first] == 0) first++;
        while (weights[last] == 0) last--;
        Description = description;
        Min = min + first;
        Max = min + last;
        _pmf = new double[last - first + 1];
        _cdf = new double[_pmf.Length];
        double acc = 0, mean = 0, second = 0;
        for (int i = 0; i < _pmf.Length; i++)
        {
            double p = weights[first + i] / total;
            int len = Min + i;
            _pmf[i] = p;
            acc += p;
            _cdf[i] = acc;
            mean += p * len;
            second += p * len * (double)len;
        }
        _cdf[^1] = 1.0;
        Mean = mean;
        Std = Math.Sqrt(Math.Max(0, second - mean * mean));
    }

    /// <summary>What this is, for messages ("task S output", "trace.csv input").</summary>
    public string Description { get; }

    /// <summary>Smallest length with non-zero probability.</summary>
    public int Min { get; }

    /// <summary>Largest length with non-zero probability.</summary>
    public int Max { get; }

    /// <summary>E[L].</summary>
    public double Mean { get; }

    /// <summary>Standard deviation of L.</summary>
    public double Std { get; }

    /// <summary>P(L = <paramref name="length"/>); 0 outside [Min, Max].</summary>
    public double Probability(int length) => length < Min || length > Max ? 0 : _pmf[length - Min];

    /// <summary>P(L ≤ <paramref name="length"/>).</summary>
    public double Cdf(int length) => length < Min ? 0 : length >= Max ? 1 : _cdf[length - Min];

    /// <summary>The probabilities of Min..Max, in order.</summary>
    public ReadOnlySpan<double> Pmf => _pmf;

    /// <summary>Smallest length whose CDF reaches <paramref name="p"/> (p in (0, 1]).</summary>
    public int Quantile(double p)
    {
        if (!(p > 0 && p <= 1))
            throw new ArgumentOutOfRangeException(nameof(p), p, "a quantile needs p in (0, 1]");
        int index = Array.BinarySearch(_cdf, p - 1e-12);
        if (index < 0) index = ~index;
        return Min + Math.Min(index, _cdf.Length - 1);
    }

    /// <summary>Inverse-CDF sample for a uniform <paramref name="u"/> in [0, 1).</summary>
    public int Sample(double u) => Quantile(Math.Clamp(u, 1e-15, 1.0));

    /// <summary>E[f(L)].</summary>
    public double Expectation(Func<int, double> f)
    {
        double sum = 0;
        for (int i = 0; i < _pmf.Length; i++)
            sum += _pmf[i] * f(Min + i);
        return sum;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Description} (mean {Mean:F1}, std {Std:F1}, range {Min}..{Max})";
}
