using ExeGPT.Scheduler.Search;

namespace ExeGPT.Planning.Tests.Search;

/// <summary>A random search problem whose throughput and latency are monotone in every variable in the
/// declared directions: sums plus a product of positive monotone sequences, optionally perturbed by a small
/// relative noise (mildly non-monotone), with a memory budget and a latency bound. It also answers the
/// problem directly by nested enumeration, independently of the code under test.</summary>
internal sealed class MonotoneInstance
{
    private readonly double[][] throughputTerms, throughputFactors, latencyTerms, latencyFactors, memoryTerms;
    private readonly double noise;
    private readonly int[] shape;

    public MonotoneInstance(Random rng, int dimensions, int minSize, int maxSize, double noise = 0,
        bool allowNonMonotoneMemory = true)
    {
        this.noise = noise;
        shape = new int[dimensions];
        Variables = new SearchVariable[dimensions];
        throughputTerms = new double[dimensions][];
        throughputFactors = new double[dimensions][];
        latencyTerms = new double[dimensions][];
        latencyFactors = new double[dimensions][];
        memoryTerms = new double[dimensions][];
        for (int i = 0; i < dimensions; i++)
        {
            int size = rng.Next(minSize, maxSize + 1);
            shape[i] = size;
            var values = new int[size];
            values[0] = rng.Next(1, 5);
            for (int k = 1; k < size; k++) values[k] = values[k - 1] + rng.Next(1, 6);
            int t = rng.Next(2) == 0 ? 1 : -1;
            int l = rng.Next(4) == 0 ? -t : t; // mostly trade-offs, sometimes a variable that helps both
            int m = rng.Next(3) - 1;
            if (!allowNonMonotoneMemory && m == 0) m = 1;
            throughputTerms[i] = Sequence(rng, size, t, 0.5, 3);
            throughputFactors[i] = Sequence(rng, size, t, 0.05, 0.3, start: 1);
            latencyTerms[i] = Sequence(rng, size, l, 0.5, 3);
            latencyFactors[i] = Sequence(rng, size, l, 0.05, 0.3, start: 1);
            // MemoryDirection 0 says "not monotone", so then the memory is deliberately random.
            memoryTerms[i] = m == 0 ? Random(rng, size, 0, 5) : Sequence(rng, size, m, 0.2, 2);
            Variables[i] = new SearchVariable($"x{i}", values, t, l, m);
        }
        ThroughputScale = rng.NextDouble() * 2;
        LatencyScale = rng.NextDouble() * 2;

        // Bounds from the instance's own spread: sometimes no limit, sometimes nothing fits / meets the bound.
        var memories = new List<double>();
        var latencies = new List<double>();
        foreach (var index in AllIndices())
        {
            memories.Add(Memory(index));
            latencies.Add(Latency(index));
        }
        memories.Sort();
        latencies.Sort();
        double r = rng.NextDouble();
        MemoryBudget = r < 0.35 ? double.PositiveInfinity
            : r < 0.4 ? memories[0] * 0.9
            : memories[rng.Next(memories.Count)];
        r = rng.NextDouble();
        LatencyBound = r < 0.1 ? latencies[0] * (0.5 + 0.4 * rng.NextDouble())
            : r < 0.15 ? latencies[^1] * 1.1
            : latencies[rng.Next(latencies.Count)];
    }

    public SearchVariable[] Variables { get; }
    public double LatencyBound { get; }
    public double MemoryBudget { get; }
    private double ThroughputScale { get; }
    private double LatencyScale { get; }

    /// <summary>Points where the performance function answers NaN (set by the NaN tests).</summary>
    public Func<int[], (bool Throughput, bool Latency)>? Unknown { get; set; }

    /// <summary>Distinct calls made through <see cref="Perf"/>.</summary>
    public int Calls { get; private set; }

    public long PointCount => AllIndices().LongCount();

    public PerfPoint Perf(ReadOnlySpan<int> values)
    {
        Calls++;
        var index = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            index[i] = Array.IndexOf((int[])Variables[i].Values, values[i]);
            Assert.That(index[i], Is.GreaterThanOrEqualTo(0), "search passed a value that is not a candidate");
        }
        return At(index);
    }

    public PerfPoint At(int[] index)
    {
        double t = Throughput(index), l = Latency(index);
        if (Unknown?.Invoke(index) is var (nanT, nanL))
        {
            if (nanT) t = double.NaN;
            if (nanL) l = double.NaN;
        }
        return new PerfPoint(t, l, Memory(index) <= MemoryBudget);
    }

    /// <summary>The answer by enumeration: highest known throughput among points that fit and meet the bound,
    /// and the lowest known latency among points that fit.</summary>
    public (double? Best, double? Tightest) Reference()
    {
        double? best = null, tightest = null;
        foreach (var index in AllIndices())
        {
            var p = At(index);
            if (p.Fits && !double.IsNaN(p.Latency) && (tightest is null || p.Latency < tightest)) tightest = p.Latency;
            if (p.Fits && p.Latency <= LatencyBound && !double.IsNaN(p.Throughput) && (best is null || p.Throughput > best))
                best = p.Throughput;
        }
        return (best, tightest);
    }

    /// <summary>The corner with every variable at its latency-lowering end.</summary>
    public int[] LatencyCorner() =>
        [.. Variables.Select((v, i) => v.LatencyDirection > 0 ? 0 : shape[i] - 1)];

    public IEnumerable<int[]> AllIndices()
    {
        var index = new int[shape.Length];
        while (true)
        {
            yield return (int[])index.Clone();
            int i = shape.Length - 1;
            while (i >= 0 && ++index[i] == shape[i]) index[i--] = 0;
            if (i < 0) yield break;
        }
    }

    private double Throughput(int[] index)
    {
        double sum = 0, product = 1;
        for (int i = 0; i < index.Length; i++)
        {
            sum += throughputTerms[i][index[i]];
            product *= throughputFactors[i][index[i]];
        }
        return (sum + ThroughputScale * product) * Noise(index, 17);
    }

    private double Latency(int[] index)
    {
        double sum = 0, product = 1;
        for (int i = 0; i < index.Length; i++)
        {
            sum += latencyTerms[i][index[i]];
            product *= latencyFactors[i][index[i]];
        }
        return (sum + LatencyScale * product) * Noise(index, 31);
    }

    private double Memory(int[] index)
    {
        double sum = 0;
        for (int i = 0; i < index.Length; i++) sum += memoryTerms[i][index[i]];
        return sum;
    }

    /// <summary>A deterministic factor in [1 − noise, 1 + noise] per point.</summary>
    private double Noise(int[] index, int salt)
    {
        if (noise == 0) return 1;
        uint h = (uint)salt * 2654435761u;
        foreach (int k in index) h = (h ^ (uint)k) * 16777619u + 0x9E3779B9u;
        h ^= h >> 15;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        return 1 + noise * (2 * (h / (double)uint.MaxValue) - 1);
    }

    /// <summary>Positive, strictly monotone: increasing in the index for direction +1, decreasing for −1.</summary>
    private static double[] Sequence(Random rng, int size, int direction, double minStep, double maxStep, double start = 0)
    {
        var s = new double[size];
        double v = start + rng.NextDouble();
        for (int k = 0; k < size; k++)
        {
            s[k] = v;
            v += minStep + rng.NextDouble() * (maxStep - minStep);
        }
        if (direction < 0) Array.Reverse(s);
        return s;
    }

    private static double[] Random(Random rng, int size, double min, double max)
    {
        var s = new double[size];
        for (int k = 0; k < size; k++) s[k] = min + rng.NextDouble() * (max - min);
        return s;
    }
}
