using System.Runtime.InteropServices;

namespace ExeGPT.Scheduler.Search;

/// <summary>The part both searches share: validates the inputs, turns index vectors into values, calls the
/// performance function (at most once per distinct point when memoising) and keeps the incumbent and the
/// tightest latency up to date as points arrive, so neither search needs a second pass.</summary>
internal sealed class SearchGrid
{
    private readonly PerfFunction perf;
    private readonly int[][] values;
    private readonly long[] strides;
    private readonly int[] valueBuffer;
    private readonly Dictionary<long, int>? memo;
    private readonly List<EvaluatedPoint> evaluated = [];
    private int best = -1;
    private double? tightest;

    /// <summary>Validates everything up front so a bad call fails before the first (costly) evaluation.</summary>
    public SearchGrid(IReadOnlyList<SearchVariable> variables, PerfFunction perf, SearchOptions options, bool memoise)
    {
        ArgumentNullException.ThrowIfNull(variables);
        ArgumentNullException.ThrowIfNull(perf);
        ArgumentNullException.ThrowIfNull(options);
        this.perf = perf;

        int n = variables.Count;
        Count = n;
        values = new int[n][];
        Sizes = new int[n];
        ThroughputUp = new bool[n];
        LatencyDown = new bool[n];
        MemoryDown = new bool[n];
        strides = new long[n];
        valueBuffer = new int[n];
        MemoryMonotone = true;
        long points = 1;
        for (int i = n - 1; i >= 0; i--)
        {
            var v = variables[i] ?? throw new ArgumentException($"Search variable {i} is null.", nameof(variables));
            if (v.Values is null || v.Values.Count == 0)
                throw new ArgumentException($"Search variable '{v.Name}' has no values; give at least one candidate value.", nameof(variables));
            CheckDirection(v.Name, "ThroughputDirection", v.ThroughputDirection, allowZero: false);
            CheckDirection(v.Name, "LatencyDirection", v.LatencyDirection, allowZero: false);
            CheckDirection(v.Name, "MemoryDirection", v.MemoryDirection, allowZero: true);
            values[i] = [.. v.Values];
            Sizes[i] = values[i].Length;
            ThroughputUp[i] = v.ThroughputDirection > 0;
            LatencyDown[i] = v.LatencyDirection < 0;
            MemoryDown[i] = v.MemoryDirection < 0;
            MemoryMonotone &= v.MemoryDirection != 0;
            strides[i] = points;
            try { points = checked(points * Sizes[i]); }
            catch (OverflowException)
            {
                throw new ArgumentException("The search grid has more than 2^63 points; give fewer candidate values.", nameof(variables));
            }
        }
        PointCount = points;

        if (double.IsNaN(options.LatencyBound))
            throw new ArgumentException("LatencyBound is NaN; give a number, or +∞ for no bound.", nameof(options));
        CheckTolerance("ThroughputTolerance", options.ThroughputTolerance);
        CheckTolerance("LatencyTolerance", options.LatencyTolerance);
        LatencyBound = options.LatencyBound;
        // ε_L is relative to |L_b| so the limit is never below the bound; an infinite bound stays itself
        // (0·∞ would be NaN).
        LatencyLimit = double.IsInfinity(LatencyBound) || options.LatencyTolerance == 0
            ? LatencyBound
            : LatencyBound + options.LatencyTolerance * Math.Abs(LatencyBound);
        ThroughputTolerance = options.ThroughputTolerance;
        IncumbentThroughput = double.IsNaN(options.IncumbentThroughput) ? double.NegativeInfinity : options.IncumbentThroughput;
        if (memoise) memo = [];
    }

    /// <summary>Number of variables.</summary>
    public int Count { get; }

    /// <summary>Candidate count per variable.</summary>
    public int[] Sizes { get; }

    /// <summary>Per variable: throughput grows toward the high index.</summary>
    public bool[] ThroughputUp { get; }

    /// <summary>Per variable: latency falls toward the high index.</summary>
    public bool[] LatencyDown { get; }

    /// <summary>Per variable: memory falls toward the high index.</summary>
    public bool[] MemoryDown { get; }

    /// <summary>Every variable declares a memory direction, so a block's memory corner bounds the whole block.</summary>
    public bool MemoryMonotone { get; }

    /// <summary>Distinct points in the grid.</summary>
    public long PointCount { get; }

    /// <summary>L_b.</summary>
    public double LatencyBound { get; }

    /// <summary>L_b widened by ε_L: blocks whose optimistic latency exceeds it are dropped.</summary>
    public double LatencyLimit { get; }

    /// <summary>ε_T.</summary>
    public double ThroughputTolerance { get; }

    /// <summary>T* carried in from an earlier search (−∞ when none).</summary>
    public double IncumbentThroughput { get; }

    /// <summary>An incumbent exists.</summary>
    public bool HasIncumbent => best >= 0;

    /// <summary>T*, or −∞ before the first satisfying point.</summary>
    public double BestThroughput { get; private set; } = double.NegativeInfinity;

    /// <summary>Distinct points evaluated so far.</summary>
    public int Evaluations => evaluated.Count;

    /// <summary>Lines 14/18 of Algorithm 1 for throughput: a block whose optimistic throughput plus ε_T·T* is
    /// still below T* cannot beat the incumbent. Unknown (NaN) bounds are passed in as +∞ by the caller.</summary>
    public bool CannotBeat(double optimisticThroughput)
    {
        double t = Math.Max(best >= 0 ? BestThroughput : double.NegativeInfinity, IncumbentThroughput);
        if (double.IsNegativeInfinity(t)) return false;
        double slack = ThroughputTolerance == 0 ? 0 : ThroughputTolerance * Math.Abs(t);
        return optimisticThroughput + slack < t;
    }

    /// <summary>The performance at a grid point given by candidate indices; memoised when enabled.</summary>
    public PerfPoint Evaluate(ReadOnlySpan<int> indices)
    {
        if (memo is null) return EvaluateNew(indices);
        long key = 0;
        for (int i = 0; i < indices.Length; i++) key += indices[i] * strides[i];
        ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(memo, key, out bool seen);
        if (seen) return evaluated[slot].Perf;
        slot = evaluated.Count;
        return EvaluateNew(indices);
    }

    private PerfPoint EvaluateNew(ReadOnlySpan<int> indices)
    {
        for (int i = 0; i < indices.Length; i++) valueBuffer[i] = values[i][indices[i]];
        var p = perf(valueBuffer);
        int at = evaluated.Count;
        evaluated.Add(new EvaluatedPoint((int[])valueBuffer.Clone(), p));
        if (p.Fits && !double.IsNaN(p.Latency) && (tightest is not double t || p.Latency < t)) tightest = p.Latency;
        // A NaN throughput is unknown, so it never becomes the incumbent; ties go to the lower latency.
        if (p.Satisfies(LatencyBound) && !double.IsNaN(p.Throughput)
            && (best < 0 || p.Throughput > BestThroughput
                || (p.Throughput == BestThroughput && p.Latency < evaluated[best].Perf.Latency)))
        {
            best = at;
            BestThroughput = p.Throughput;
        }
        return p;
    }

    /// <summary>Packs the outcome.</summary>
    public SearchResult ToResult(TimeSpan elapsed) =>
        new(best >= 0 ? evaluated[best] : null, evaluated.Count, elapsed, evaluated.AsReadOnly(), tightest);

    private static void CheckDirection(string name, string what, int direction, bool allowZero)
    {
        if (direction == 1 || direction == -1 || (allowZero && direction == 0)) return;
        string accepted = allowZero ? "+1, -1 or 0" : "+1 or -1";
        throw new ArgumentException($"Search variable '{name}' has {what} {direction}; accepted: {accepted}.", "variables");
    }

    private static void CheckTolerance(string name, double value)
    {
        if (!double.IsFinite(value) || value < 0)
            throw new ArgumentException($"{name} is {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}; give a finite fraction >= 0.", "options");
    }
}
