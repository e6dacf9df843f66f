namespace ExeGPT.Profiler;

/// <summary>Order statistics of repeated timings.</summary>
internal static class Samples
{
    public static double Median(IReadOnlyList<double> values)
    {
        double[] sorted = [.. values.Order()];
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    public static (double Median, double Spread) MedianAndSpread(IReadOnlyList<double> values) =>
        (Median(values), values.Max() - values.Min());

    /// <summary>Adds a sample under <paramref name="key"/>.</summary>
    public static void Add<TKey>(SortedDictionary<TKey, List<double>> into, TKey key, double seconds) where TKey : notnull
    {
        if (!into.TryGetValue(key, out List<double>? list))
            into[key] = list = [];
        list.Add(seconds);
    }

    /// <summary>Makes <paramref name="times"/> non-decreasing: a transfer never gets faster with more bytes, and
    /// timer noise at small sizes must not make an interpolation say otherwise.</summary>
    public static void RunningMax(double[] times)
    {
        for (int i = 1; i < times.Length; i++)
            times[i] = Math.Max(times[i], times[i - 1]);
    }
}
