using System.Diagnostics;

namespace ExeGPT.Runner;

/// <summary>
/// One engine request's timings, in seconds. A serving front-end's client waits from the moment it submits, so
/// TTFT and end-to-end count from the request's arrival (its <see cref="ExeGptEngine.Submit(EngineRequest, CancellationToken)"/>), queueing included;
/// <see cref="QueueSeconds"/> tells how much of that was spent waiting for an encoder batch. (The runner's
/// <see cref="RequestRecord"/> counts from the encode start instead, as the paper's latency bound does.)
/// </summary>
/// <param name="QueueSeconds">Arrival to the start of its encoding (or, when cancelled while queued, to its end).</param>
/// <param name="TtftSeconds">Arrival to the first token; null when no token was produced (cancelled before it).</param>
/// <param name="TpotSeconds">Mean time per token after the first; null with fewer than two tokens.</param>
/// <param name="EndToEndSeconds">Arrival to the last token (or to the cancellation taking effect).</param>
/// <param name="Tokens">Tokens produced (all of them were streamed).</param>
/// <param name="Cancelled">True when the request was cancelled before it finished.</param>
public sealed record RequestMetrics(double QueueSeconds, double? TtftSeconds, double? TpotSeconds, double EndToEndSeconds,
    int Tokens, bool Cancelled)
{
    /// <summary>From a finished request's timestamps (Stopwatch ticks; an unset one is 0).</summary>
    internal static RequestMetrics From(RequestState request, bool cancelled)
    {
        long arrival = request.Queued, end = request.Finished;
        int count = request.Count;
        return new RequestMetrics(
            Seconds(request.Started != 0 ? request.Started : end, arrival),
            count > 0 ? Seconds(request.FirstToken, arrival) : null,
            count > 1 ? Seconds(end, request.FirstToken) / (count - 1) : null,
            Seconds(end, arrival),
            count,
            cancelled);
    }

    private static double Seconds(long to, long from) => (double)(to - from) / Stopwatch.Frequency;
}
