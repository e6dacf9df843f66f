using ExeGPT.Core.Workloads;

namespace ExeGPT.Simulator;

/// <summary>One sampled query in an event-level simulation.</summary>
internal sealed class SimQuery(QueryLengths lengths, int steps, bool measured, bool selfAttendsPrompt)
{
    public int Input { get; } = lengths.InputLength;
    public int Output { get; } = lengths.OutputLength;
    public int Steps { get; } = steps;       // decode iterations it needs
    public int Done { get; set; }            // decode iterations done
    public bool Measured { get; } = measured;
    public bool Merged { get; set; }         // WAA: joined the decode batch
    public double Start { get; set; } = double.NaN;
    public double FirstToken { get; set; } = double.NaN;
    public double Finish { get; set; } = double.NaN;
    public int Remaining => Steps - Done;

    /// <summary>Self-attention KV length the next decode step attends over (the prompt only for decoder-only models).</summary>
    public int Context => (selfAttendsPrompt ? Input : 0) + Done + 1;
}

/// <summary>Turns completed measured queries into the result's latency statistics.</summary>
internal static class EventRecorder
{
    public static List<SimQuery> Sample(SimulationContext ctx, int count, int measuredFrom, int measuredCount)
    {
        IReadOnlyList<QueryLengths> lengths = WorkloadSampler.Sample(ctx.Workload, count, ctx.Options.Seed);
        var queries = new List<SimQuery>(count);
        for (int i = 0; i < count; i++)
            queries.Add(new SimQuery(lengths[i], ctx.Stats.DecodeSteps(lengths[i].OutputLength),
                i >= measuredFrom && i < measuredFrom + measuredCount, ctx.Stats.StepOffset == 1));
        return queries;
    }

    /// <summary>The event-level result: the expected one with the measured throughput and decode batch, and
    /// latency statistics from the measured queries; the paper's latency is the mean end-to-end latency of
    /// measured queries with the 99th-percentile output length (widening the window to at least five).</summary>
    public static SimulationResult Finish(SimulationContext ctx, SimulationResult expected, double throughput, double decodeBatch,
        IEnumerable<SimQuery> all)
    {
        SimulationResult partial = expected with
        {
            Mode = SimulationMode.Event,
            ThroughputSeqPerS = throughput,
            ThroughputTokensPerS = throughput * ctx.Stats.OutputMean,
            DecodeBatch = decodeBatch,
        };
        var e2e = new List<double>();
        var ttft = new List<double>();
        var tpot = new List<double>();
        var measured = new List<SimQuery>();
        foreach (SimQuery q in all)
        {
            if (!q.Measured || double.IsNaN(q.Finish))
                continue;
            measured.Add(q);
            e2e.Add(q.Finish - q.Start);
            ttft.Add(q.FirstToken - q.Start);
            if (q.Output > 1)
                tpot.Add((q.Finish - q.FirstToken) / (q.Output - 1));
        }
        int target = ctx.Stats.OutputP99;
        double paper = double.NaN;
        for (int window = 0; window <= ctx.Workload.Output.Max; window++)
        {
            double sum = 0;
            int n = 0;
            foreach (SimQuery q in measured)
                if (Math.Abs(q.Output - target) <= window) { sum += q.Finish - q.Start; n++; }
            if (n >= 5 || (window == ctx.Workload.Output.Max && n > 0))
            {
                paper = sum / n;
                break;
            }
        }
        return partial with
        {
            LatencyS = partial.Schedule.Policy == Policy.Static ? partial.LatencyS : paper,
            EndToEnd = LatencyStats.FromSamples(e2e),
            Ttft = LatencyStats.FromSamples(ttft),
            Tpot = LatencyStats.FromSamples(tpot),
            QueriesMeasured = measured.Count,
        };
    }
}
