using ExeGPT.Simulator;

namespace ExeGPT.Scheduler.Paper;

/// <summary>One FT (static batching) run of the bound sweep.</summary>
/// <param name="Batch">Batch size.</param>
/// <param name="ThroughputSeqPerS">Predicted throughput.</param>
/// <param name="LatencyS">Time to generate the maximum output length (the paper holds FT to it).</param>
public sealed record BaselinePoint(int Batch, double ThroughputSeqPerS, double LatencyS);

/// <summary>One (model, cluster, task, bound) cell of the evaluation.</summary>
/// <param name="Group">Small/mid or large.</param>
/// <param name="Model">Model preset.</param>
/// <param name="Cluster">Cluster preset.</param>
/// <param name="Task">Task id.</param>
/// <param name="Bound">"p10", "p30", "p70" (bottom x% of the FT latencies) or "inf".</param>
/// <param name="BoundS">The bound in seconds (+∞ for "inf"; NaN when FT fits no batch, so none was derived).</param>
/// <param name="FtBatch">The FT batch with the best throughput meeting the bound, or null.</param>
/// <param name="FtThroughput">Its throughput (seq/s), or null.</param>
/// <param name="FtLatencyS">Its latency, or null.</param>
/// <param name="Schedule">ExeGPT's chosen schedule, or null (unsatisfiable).</param>
/// <param name="Throughput">Its throughput (seq/s), or null.</param>
/// <param name="LatencyS">Its p99-length latency, or null.</param>
/// <param name="Evaluations">Simulator calls the scheduler made.</param>
/// <param name="Reason">Why ExeGPT has no schedule, or null.</param>
public sealed record PaperRow(PaperGroup Group, string Model, string Cluster, string Task, string Bound, double BoundS,
    int? FtBatch, double? FtThroughput, double? FtLatencyS, Schedule? Schedule, double? Throughput, double? LatencyS,
    int Evaluations, string? Reason)
{
    /// <summary>ExeGPT over FT throughput, when both meet the bound.</summary>
    public double? Gain => Throughput is double t && FtThroughput is double ft && ft > 0 ? t / ft : null;

    /// <summary>The chosen policy's name, or null.</summary>
    public string? Policy => Schedule is null ? null : PolicyNames.Name(Schedule.Policy);

    /// <summary>"gpt3-39b@a40x16 S p10".</summary>
    public string Cell => $"{Model}@{Cluster} {Task} {Bound}";
}

/// <summary>The evaluation's summary lines.</summary>
/// <param name="AverageGainSmallMid">Mean gain over the small/mid rows that have one, or null.</param>
/// <param name="AverageGainLarge">Mean gain over the large rows that have one, or null.</param>
/// <param name="AverageGainOverall">Mean gain over distinct cells (a cell in both groups counts once), or null.</param>
/// <param name="MaxGain">The largest gain, or null.</param>
/// <param name="MaxGainCell">Where it was reached, or null.</param>
/// <param name="Cells">Distinct (model, cluster, task, bound) cells.</param>
/// <param name="GainCells">Distinct cells with a gain.</param>
/// <param name="UnsatisfiableExeGpt">Distinct cells where no ExeGPT schedule meets the bound.</param>
/// <param name="UnsatisfiableFt">Distinct cells where no FT batch meets the bound.</param>
/// <param name="WallSeconds">Wall time of the whole evaluation.</param>
/// <param name="Threads">Cells evaluated at once at most.</param>
public sealed record PaperSummary(double? AverageGainSmallMid, double? AverageGainLarge, double? AverageGainOverall,
    double? MaxGain, string? MaxGainCell, int Cells, int GainCells, int UnsatisfiableExeGpt, int UnsatisfiableFt,
    double WallSeconds, int Threads);

/// <summary>The paper-style evaluation: every row, the FT sweeps the bounds came from, and the summary.</summary>
/// <param name="Scenarios">What was evaluated.</param>
/// <param name="Rows">One per (scenario, task, bound), in scenario, task and bound order.</param>
/// <param name="Baselines">The FT sweep of each "model@cluster task".</param>
/// <param name="Summary">Averages, maximum, counts and time.</param>
public sealed record PaperReport(IReadOnlyList<PaperScenario> Scenarios, IReadOnlyList<PaperRow> Rows,
    IReadOnlyDictionary<string, IReadOnlyList<BaselinePoint>> Baselines, PaperSummary Summary);
