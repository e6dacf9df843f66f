using System.Diagnostics;
using System.Runtime.InteropServices;
using ExeGPT.Native;

namespace ExeGPT.Runner;

/// <summary>One request inside a run: its output so far, its sampling stream and its timestamps (Stopwatch
/// ticks). Rows of micro-batches point at it, so recording a token is a field write (no lookup, no
/// allocation). Written by one thread at a time: whichever stage thread owns the row's micro-batch.</summary>
internal sealed class RequestState
{
    private static readonly SamplingOptions GreedyOptions = new(Greedy: true);
    private readonly int[] _tokens;
    private ulong _rng;
    private volatile bool _cancelled;

    public RequestState(int index, RunRequest request, ulong seed, IRunObserver? observer, long queued)
    {
        Index = index;
        Request = request;
        Sampling = request.Sampling ?? GreedyOptions;
        _tokens = new int[request.MaxNewTokens];
        _rng = Sampler.RngInit(seed, (ulong)index);
        Observer = observer;
        Queued = queued;
    }

    public int Index { get; }

    public RunRequest Request { get; }

    public SamplingOptions Sampling { get; }

    public IRunObserver? Observer { get; }

    public int Count { get; private set; }

    public long Queued { get; }

    public long Started { get; set; }

    public long FirstToken { get; private set; }

    public long Finished { get; private set; }

    /// <summary>The encoder batch it joined; -1 while queued (and for a request cancelled before it was encoded).</summary>
    public int EncoderBatch { get; set; } = -1;

    public bool IsFinished { get; private set; }

    public bool Cancelled => _cancelled;

    public void Cancel() => _cancelled = true;

    /// <summary>The sampling stream, as the one-element span <see cref="Sampler.Sample"/> advances.</summary>
    public Span<ulong> RngSpan => MemoryMarshal.CreateSpan(ref _rng, 1);

    /// <summary>Records a sampled token; true when the request has all its tokens (or hit <paramref name="eos"/>).</summary>
    public bool Record(int token, int? eos, long ticks)
    {
        int step = Count++;
        _tokens[step] = token;
        if (step == 0)
            FirstToken = ticks;
        Observer?.OnToken(Index, token);
        return Count == _tokens.Length || token == eos;
    }

    /// <summary>Marks the request done at <paramref name="ticks"/>.</summary>
    public void Finish(long ticks)
    {
        Finished = ticks;
        IsFinished = true;
        Observer?.OnFinished(Index);
    }

    public RequestRecord ToRecord(long origin) => new(_tokens[..Count], Seconds(Queued, origin), Seconds(Started, origin),
        Seconds(FirstToken, origin), Seconds(Finished, origin), EncoderBatch);

    private static double Seconds(long ticks, long origin) => (double)(ticks - origin) / Stopwatch.Frequency;
}
