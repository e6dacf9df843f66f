namespace ExeGPT.Core.Workloads;

/// <summary>One query as the planner sees it: lengths only.</summary>
/// <param name="InputLength">Prompt tokens (≥ 1).</param>
/// <param name="OutputLength">Generated tokens including the first, which the prefill produces (≥ 1).</param>
public readonly record struct QueryLengths(int InputLength, int OutputLength);

/// <summary>The input and output length distributions of a workload. Sampling is seeded; with a trace the
/// samples are rows of the trace (so its own correlation carries over), otherwise the two marginals are
/// joined by a Gaussian copula with correlation <see cref="Correlation"/> (0: independent).</summary>
/// <param name="Name">Task id ("S", "T", ...) or trace file name.</param>
/// <param name="Input">Input (prompt) length distribution.</param>
/// <param name="Output">Output length distribution; the paper enforces these lengths (no early EOS).</param>
/// <param name="Correlation">Input/output correlation in [-1, 1] for synthetic sampling.</param>
/// <param name="Trace">The (input, output) rows of an empirical workload, or null.</param>
public sealed record WorkloadSpec(string Name, LengthDistribution Input, LengthDistribution Output,
    double Correlation = 0, IReadOnlyList<QueryLengths>? Trace = null)
{
    /// <summary>Longest prompt plus longest output: the KV-cache slot a query can need.</summary>
    public int MaxTotalLength => Input.Max + Output.Max;
}
