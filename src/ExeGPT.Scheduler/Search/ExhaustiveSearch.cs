using System.Diagnostics;

namespace ExeGPT.Scheduler.Search;

/// <summary>Evaluates every point of the grid: the reference branch-and-bound is verified against, and the
/// fallback when a variable's monotonicity cannot be trusted. Points are visited in lexicographic index
/// order (the first variable changes slowest).</summary>
public static class ExhaustiveSearch
{
    /// <summary>Runs the search over the full grid.</summary>
    /// <param name="variables">The control variables; each needs at least one candidate value.</param>
    /// <param name="perf">The performance function (the simulator).</param>
    /// <param name="options">L_b; the tolerances are validated but play no part (nothing is pruned).</param>
    /// <returns>The best point (null when nothing meets the bound), every point evaluated and the tightest
    /// latency among points that fit.</returns>
    /// <exception cref="ArgumentException">Invalid variables or options (as for
    /// <see cref="BranchAndBound.Search"/>), or a grid too large to list.</exception>
    public static SearchResult Search(IReadOnlyList<SearchVariable> variables, PerfFunction perf, SearchOptions options)
    {
        var clock = Stopwatch.StartNew();
        var grid = new SearchGrid(variables, perf, options, memoise: false);
        if (grid.PointCount > Array.MaxLength)
            throw new ArgumentException(
                $"The search grid has {grid.PointCount} points; exhaustive search lists at most {Array.MaxLength}. Use BranchAndBound.",
                nameof(variables));

        int n = grid.Count;
        var index = new int[n];
        while (true)
        {
            grid.Evaluate(index);
            int i = n - 1;
            while (i >= 0 && ++index[i] == grid.Sizes[i]) index[i--] = 0; // odometer step
            if (i < 0) break;
        }
        return grid.ToResult(clock.Elapsed);
    }
}
