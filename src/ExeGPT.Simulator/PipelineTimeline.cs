namespace ExeGPT.Simulator;

/// <summary>One piece of work in a <see cref="PipelineTimeline"/>: a micro-batch on a stage in one iteration.</summary>
/// <param name="Iteration">Decode iteration (0-based).</param>
/// <param name="MicroBatch">Micro-batch (0-based).</param>
/// <param name="Stage">Pipeline stage (0-based).</param>
/// <param name="Start">When the stage starts it.</param>
/// <param name="Finish">When the stage finishes it.</param>
public readonly record struct TimelineSlot(int Iteration, int MicroBatch, int Stage, double Start, double Finish);

/// <summary>An explicit timeline of <see cref="Iterations"/> decode iterations of <see cref="MicroBatches"/>
/// micro-batches through a pipeline of <see cref="Stages"/> stages. Iteration i + 1 of a micro-batch enters
/// stage 0 only after iteration i of that micro-batch has left the last stage (its next token depends on the
/// previous one); each stage serves its work in (iteration, micro-batch) order, one piece at a time. Every
/// micro-batch is ready at <see cref="StartOffset"/> (e.g. when an encode stage in front has finished).
/// The models use closed forms for this (period max(Σt, M·max t)); this builder is the reference they are
/// checked against, and a way to draw the schedule.</summary>
public sealed class PipelineTimeline
{
    private readonly double[] _start;
    private readonly double[] _finish;

    private PipelineTimeline(int stages, int microBatches, int iterations, double startOffset, double[] start, double[] finish)
    {
        Stages = stages;
        MicroBatches = microBatches;
        Iterations = iterations;
        StartOffset = startOffset;
        _start = start;
        _finish = finish;
        double makespan = startOffset;
        foreach (double f in finish) makespan = Math.Max(makespan, f);
        Makespan = makespan;
    }

    /// <summary>Pipeline stages.</summary>
    public int Stages { get; }

    /// <summary>Micro-batches circulating.</summary>
    public int MicroBatches { get; }

    /// <summary>Iterations each micro-batch makes.</summary>
    public int Iterations { get; }

    /// <summary>When the first iteration may start (an encode stage's time in front of the pipeline).</summary>
    public double StartOffset { get; }

    /// <summary>When the last piece of work finishes (<see cref="StartOffset"/> when there is none).</summary>
    public double Makespan { get; }

    /// <summary>Builds the timeline where every micro-batch takes <paramref name="stageTimes"/>[s] on stage s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No stage, a count below 1 (iterations below 0), or a
    /// negative or non-finite time or offset.</exception>
    public static PipelineTimeline Build(ReadOnlySpan<double> stageTimes, int microBatches, int iterations, double startOffset = 0)
    {
        double[] times = stageTimes.ToArray();
        return Build(times.Length, microBatches, iterations, (_, _, s) => times[s], startOffset);
    }

    /// <summary>Builds the timeline where micro-batch j of iteration i takes <paramref name="time"/>(i, j, s)
    /// on stage s (so batches may shrink as queries finish).</summary>
    /// <exception cref="ArgumentOutOfRangeException">As for the other overload.</exception>
    public static PipelineTimeline Build(int stages, int microBatches, int iterations, Func<int, int, int, double> time,
        double startOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(stages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(microBatches, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        if (!(startOffset >= 0) || double.IsInfinity(startOffset))
            throw new ArgumentOutOfRangeException(nameof(startOffset), startOffset, "the start offset must be finite and non-negative");
        int count = checked(stages * microBatches * iterations);
        double[] start = new double[count], finish = new double[count];
        double[] stageFree = new double[stages];   // when each stage finished its previous piece of work
        Array.Fill(stageFree, startOffset);
        for (int i = 0, k = 0; i < iterations; i++)
            for (int j = 0; j < microBatches; j++)
                for (int s = 0; s < stages; s++, k++)
                {
                    double t = time(i, j, s);
                    if (!(t >= 0) || double.IsInfinity(t))
                        throw new ArgumentOutOfRangeException(nameof(time), t,
                            $"stage {s} time of micro-batch {j} in iteration {i} must be finite and non-negative");
                    // Ready: the previous stage of this pass, or (stage 0) this micro-batch's previous token.
                    double ready = s > 0 ? finish[k - 1]
                        : i > 0 ? finish[k - microBatches * stages + stages - 1]
                        : startOffset;
                    start[k] = Math.Max(ready, stageFree[s]);
                    finish[k] = start[k] + t;
                    stageFree[s] = finish[k];
                }
        return new PipelineTimeline(stages, microBatches, iterations, startOffset, start, finish);
    }

    private int Index(int iteration, int microBatch, int stage)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(iteration);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(iteration, Iterations);
        ArgumentOutOfRangeException.ThrowIfNegative(microBatch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(microBatch, MicroBatches);
        ArgumentOutOfRangeException.ThrowIfNegative(stage);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stage, Stages);
        return (iteration * MicroBatches + microBatch) * Stages + stage;
    }

    /// <summary>When <paramref name="stage"/> starts micro-batch <paramref name="microBatch"/> of <paramref name="iteration"/>.</summary>
    public double Start(int iteration, int microBatch, int stage) => _start[Index(iteration, microBatch, stage)];

    /// <summary>When <paramref name="stage"/> finishes micro-batch <paramref name="microBatch"/> of <paramref name="iteration"/>.</summary>
    public double Finish(int iteration, int microBatch, int stage) => _finish[Index(iteration, microBatch, stage)];

    /// <summary>When micro-batch <paramref name="microBatch"/> leaves the last stage in <paramref name="iteration"/>
    /// (its token of that iteration is out).</summary>
    public double IterationDone(int iteration, int microBatch) => Finish(iteration, microBatch, Stages - 1);

    /// <summary>Every piece of work in (iteration, micro-batch, stage) order.</summary>
    public IEnumerable<TimelineSlot> Slots()
    {
        for (int i = 0, k = 0; i < Iterations; i++)
            for (int j = 0; j < MicroBatches; j++)
                for (int s = 0; s < Stages; s++, k++)
                    yield return new TimelineSlot(i, j, s, _start[k], _finish[k]);
    }

    /// <summary>Time stage <paramref name="stage"/> spends working (its busy share is this over the makespan).</summary>
    public double BusyTime(int stage)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stage);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stage, Stages);
        double busy = 0;
        for (int k = stage; k < _finish.Length; k += Stages)
            busy += _finish[k] - _start[k];
        return busy;
    }
}
