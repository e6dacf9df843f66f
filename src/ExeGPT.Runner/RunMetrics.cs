using ExeGPT.Simulator;

namespace ExeGPT.Runner;

/// <summary>
/// A run's steady-state figures, measured the way the simulator predicts them (the paper's offline, saturated
/// evaluation): the first encoder batches fill the pipeline and the last ones run while it drains, so both are
/// left out — as many batches as started before the first batch's last query finished (the time the running
/// batch takes to reach its steady mix). Throughput is the measured batches' queries over the time between the
/// first measured batch's start and the first tail batch's start; latencies are over the measured queries,
/// counted from their encode start as the simulator counts them.
/// </summary>
public sealed record RunMetrics(double ThroughputSeqPerS, double ThroughputTokensPerS, LatencyStats EndToEnd, LatencyStats Ttft,
    LatencyStats Tpot, int MeasuredQueries, int WarmBatches, int TailBatches, double WindowSeconds)
{
    /// <summary>Measures <paramref name="result"/>; throws <see cref="ArgumentException"/> when the run is too short to
    /// leave a window (fewer than 3 encoder batches).</summary>
    public static RunMetrics From(RunResult result)
    {
        IReadOnlyList<EncoderBatchRecord> batches = result.EncoderBatches;
        int total = batches.Count;
        if (total < 3)
            throw new ArgumentException($"the run formed {total} encoder batches; at least 3 are needed to measure a steady window");
        double firstBatchDone = result.Requests.Where(q => q.EncoderBatch == 0).Max(q => q.Finished);   // never-encoded: -1
        int fill = Math.Max(1, batches.Count(b => b.Started < firstBatchDone));
        // A short run keeps at least a third of its batches in the window.
        int edge = Math.Min(fill, (total - 1) / 3);
        int begin = Math.Max(1, edge), end = total - Math.Max(1, edge);
        double window = batches[end].Started - batches[begin].Started;
        var measured = result.Requests.Where(q => q.EncoderBatch >= begin && q.EncoderBatch < end).ToList();
        double tokens = measured.Sum(q => (double)q.Tokens.Length);
        return new RunMetrics(measured.Count / window, tokens / window,
            LatencyStats.FromSamples([.. measured.Select(q => q.EndToEnd)]),
            LatencyStats.FromSamples([.. measured.Select(q => q.Ttft)]),
            LatencyStats.FromSamples([.. measured.Where(q => q.Tokens.Length > 1).Select(q => q.Tpot)]),
            measured.Count, begin, total - end, window);
    }
}
