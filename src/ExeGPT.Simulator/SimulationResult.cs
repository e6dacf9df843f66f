namespace ExeGPT.Simulator;

/// <summary>Expected-value (what the scheduler searches with) or event-level (individual sampled queries).</summary>
public enum SimulationMode
{
    /// <summary>Expected batch sizes and lengths from the distributions (fast; the scheduler's perf()).</summary>
    Expected,
    /// <summary>Sampled individual queries through the same costs (slower; validates Expected).</summary>
    Event,
}

/// <summary>Percentiles of one per-query metric, in seconds.</summary>
public readonly record struct LatencyStats(double Mean, double P50, double P90, double P99)
{
    /// <summary>All zero (no queries).</summary>
    public static LatencyStats Empty => default;

    /// <summary>Statistics of <paramref name="values"/> weighted by <paramref name="weights"/> (which need
    /// not be normalised); a percentile is the smallest value whose cumulative weight reaches it.</summary>
    public static LatencyStats FromWeighted(ReadOnlySpan<double> values, ReadOnlySpan<double> weights)
    {
        if (values.Length != weights.Length)
            throw new ArgumentException("values and weights differ in length");
        int n = values.Length;
        if (n == 0)
            return Empty;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        double[] keys = values.ToArray(), w = weights.ToArray();
        Array.Sort(keys, order);
        double total = 0, mean = 0;
        for (int i = 0; i < n; i++)
        {
            total += weights[i];
            mean += weights[i] * values[i];
        }
        if (!(total > 0))
            return Empty;
        double Percentile(double p)
        {
            double acc = 0;
            for (int i = 0; i < n; i++)
            {
                acc += w[order[i]];
                if (acc >= p * total - 1e-12 * total)
                    return keys[i];
            }
            return keys[n - 1];
        }
        return new LatencyStats(mean / total, Percentile(0.50), Percentile(0.90), Percentile(0.99));
    }

    /// <summary>Unweighted statistics of samples.</summary>
    public static LatencyStats FromSamples(IReadOnlyList<double> samples)
    {
        double[] values = [.. samples];
        double[] weights = new double[values.Length];
        Array.Fill(weights, 1.0);
        return FromWeighted(values, weights);
    }
}

/// <summary>What one device holds and does under a schedule.</summary>
/// <param name="Device">Device index in the cluster (node-major).</param>
/// <param name="Role">"both" (RRA, baselines), "encoder" or "decoder" (WAA).</param>
/// <param name="Stage">Pipeline stage within its role's pipeline.</param>
/// <param name="TpDegree">Tensor-parallel degree of its stage.</param>
/// <param name="Layers">Layers its stage holds ("E+D" for encoder-decoder RRA is reported as their sum).</param>
/// <param name="BusyFraction">Share of wall time the device computes or communicates.</param>
/// <param name="WeightBytes">Weights resident on the device.</param>
/// <param name="ActivationBytes">Peak activation working set.</param>
/// <param name="KvCacheBytes">KV cache at its peak.</param>
/// <param name="CapacityBytes">Usable device memory.</param>
public sealed record DeviceReport(int Device, string Role, int Stage, int TpDegree, int Layers, double BusyFraction,
    long WeightBytes, long ActivationBytes, long KvCacheBytes, long CapacityBytes)
{
    /// <summary>Weights + activations + KV cache.</summary>
    public long TotalBytes => WeightBytes + ActivationBytes + KvCacheBytes;

    /// <summary>Total over capacity.</summary>
    public double MemoryRatio => (double)TotalBytes / CapacityBytes;
}

/// <summary>The prediction for one schedule.</summary>
public sealed record SimulationResult
{
    /// <summary>The schedule simulated.</summary>
    public required Schedule Schedule { get; init; }

    /// <summary>Which model produced this.</summary>
    public required SimulationMode Mode { get; init; }

    /// <summary>The schedule can run: layout valid, memory fits, profile covers it.</summary>
    public required bool Feasible { get; init; }

    /// <summary>Why not, when not feasible.</summary>
    public string? Reason { get; init; }

    /// <summary>Completed queries per second in steady state.</summary>
    public double ThroughputSeqPerS { get; init; }

    /// <summary>Generated tokens per second in steady state.</summary>
    public double ThroughputTokensPerS { get; init; }

    /// <summary>The paper's latency: time to generate a 99th-percentile-length output (static batching:
    /// the maximum length, as the paper holds FasterTransformer to it).</summary>
    public double LatencyS { get; init; }

    /// <summary>Per-query end-to-end latency (first encode/prefill start to last token).</summary>
    public LatencyStats EndToEnd { get; init; }

    /// <summary>Time to first token.</summary>
    public LatencyStats Ttft { get; init; }

    /// <summary>Time per output token after the first: (E2E − TTFT) / (output tokens − 1).</summary>
    public LatencyStats Tpot { get; init; }

    /// <summary>Mean decode batch (queries per decode iteration).</summary>
    public double DecodeBatch { get; init; }

    /// <summary>Largest decode batch the schedule holds KV-cache slots for.</summary>
    public double PeakDecodeBatch { get; init; }

    /// <summary>WAA: devices given to encoding; RRA and baselines: 0.</summary>
    public int EncoderDevices { get; init; }

    /// <summary>Pipeline description, e.g. "enc[1] | dec[tp2 x1, 1]".</summary>
    public string Layout { get; init; } = "";

    /// <summary>Per-device report (empty when the layout itself was invalid).</summary>
    public IReadOnlyList<DeviceReport> Devices { get; init; } = [];

    /// <summary>Event mode: queries measured.</summary>
    public int QueriesMeasured { get; init; }

    /// <summary>A schedule that cannot even be laid out or timed: every metric is NaN (unknown), so a search
    /// never mistakes it for a slow or fast point.</summary>
    public static SimulationResult Infeasible(Schedule schedule, SimulationMode mode, string reason)
    {
        var unknown = new LatencyStats(double.NaN, double.NaN, double.NaN, double.NaN);
        return new()
        {
            Schedule = schedule, Mode = mode, Feasible = false, Reason = reason,
            ThroughputSeqPerS = double.NaN, ThroughputTokensPerS = double.NaN, LatencyS = double.NaN,
            EndToEnd = unknown, Ttft = unknown, Tpot = unknown,
        };
    }
}
