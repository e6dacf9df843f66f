namespace ExeGPT.Scheduler.Search;

/// <summary>One control variable of a search: an ordered list of candidate values and how each metric
/// moves as the index grows. The paper orients every variable so that "up" means more throughput and
/// more latency (Throughput = Latency = +1); a variable that is not a trade-off (both metrics improve in
/// the same direction) is declared as such, and branch-and-bound takes each metric's optimistic corner.</summary>
/// <param name="Name">e.g. "B_E", "N_D", "tp_groups".</param>
/// <param name="Values">Candidate values, in index order (the grid exhaustive search enumerates).</param>
/// <param name="ThroughputDirection">+1 when throughput grows with the index, -1 when it shrinks.</param>
/// <param name="LatencyDirection">+1 when latency grows with the index, -1 when it shrinks.</param>
/// <param name="MemoryDirection">+1/-1 when peak memory grows/shrinks with the index, 0 when not monotone
/// (then memory never prunes a block).</param>
public sealed record SearchVariable(string Name, IReadOnlyList<int> Values, int ThroughputDirection = 1,
    int LatencyDirection = 1, int MemoryDirection = 0);

/// <summary>What the performance function says about one point.</summary>
/// <param name="Throughput">Predicted throughput (higher is better), computed even when the point does
/// not fit in memory so blocks can be bounded; NaN when it could not be computed at all.</param>
/// <param name="Latency">Predicted latency under the SLO being searched (lower is better); NaN when unknown.</param>
/// <param name="Fits">The point can run: memory and every other hard constraint hold.</param>
/// <param name="Reason">Why it does not fit, or null.</param>
public readonly record struct PerfPoint(double Throughput, double Latency, bool Fits, string? Reason = null)
{
    /// <summary>Runs and meets <paramref name="latencyBound"/>.</summary>
    public bool Satisfies(double latencyBound) => Fits && Latency <= latencyBound;
}

/// <summary>A point the search evaluated.</summary>
public sealed record EvaluatedPoint(int[] Values, PerfPoint Perf);

/// <summary>The performance function (the simulator): values are the variables' values, not indices.</summary>
public delegate PerfPoint PerfFunction(ReadOnlySpan<int> values);

/// <summary>Search parameters.</summary>
/// <param name="LatencyBound">L_b in the same unit as <see cref="PerfPoint.Latency"/>; +∞ for none.</param>
/// <param name="ThroughputTolerance">ε_T as a fraction of the incumbent throughput: a block is dropped
/// only when its optimistic throughput + ε_T·T* is below T*.</param>
/// <param name="LatencyTolerance">ε_L as a fraction of L_b: a block is kept while its optimistic
/// latency is below L_b·(1 + ε_L).</param>
/// <param name="IncumbentThroughput">Throughput of a satisfying point found by an earlier search (another policy
/// or TP layout): blocks that cannot beat it are pruned from the start. It is never returned as Best.</param>
public sealed record SearchOptions(double LatencyBound, double ThroughputTolerance = 0.02, double LatencyTolerance = 0.02,
    double IncumbentThroughput = double.NegativeInfinity);

/// <summary>Outcome of one search.</summary>
/// <param name="Best">The highest-throughput point that fits and meets the bound, or null.</param>
/// <param name="Evaluations">Distinct points evaluated (the performance function's calls).</param>
/// <param name="Elapsed">Wall time of the search.</param>
/// <param name="Evaluated">Every distinct point evaluated, for the Pareto frontier.</param>
/// <param name="TightestLatency">The lowest latency among evaluated points that fit (for an
/// unsatisfiable bound: the tightest latency reachable), or null when nothing fits.</param>
public sealed record SearchResult(EvaluatedPoint? Best, int Evaluations, TimeSpan Elapsed,
    IReadOnlyList<EvaluatedPoint> Evaluated, double? TightestLatency);
