using ExeGPT.Runner;
using ExeGPT.Runtime;
using ExeGPT.Simulator;

namespace ExeGPT.Tests.Runner;

/// <summary>Shared pieces of the ExeGptEngine tests: the tiny preset's options, stream collection, the runner's own
/// tokens as a reference, and a guard so a hang fails the test instead of stalling the suite.</summary>
internal static class EngineTestKit
{
    /// <summary>How long a test waits for something that must happen (a generous no-hang guard, not a timing).</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    public static RunnerOptions Tiny() => new()
    {
        Model = ModelSource.Resolve("tiny"),
        ThreadsPerDevice = 1,
        CommTimeoutMs = 20000,
    };

    /// <summary>Continuous batching with room for exactly one running row: a slot that is not freed blocks everything.</summary>
    public static ExecutionLayout OneSlot() => new(new Schedule(Policy.Continuous, 1), [new(0, 1, 0, 2)], []);

    /// <summary>Reads the whole stream, then the completion.</summary>
    public static async Task<(int[] Tokens, RequestMetrics Metrics)> Collect(GenerationHandle handle)
    {
        var tokens = new List<int>();
        await foreach (int token in handle.Tokens)
            tokens.Add(token);
        RequestMetrics metrics = await handle.Completion;
        return ([.. tokens], metrics);
    }

    /// <summary>Reads the stream until it throws; returns what came before and the exception.</summary>
    public static async Task<(int[] Tokens, Exception? Error)> CollectUntilError(IAsyncEnumerable<int> stream)
    {
        var tokens = new List<int>();
        try
        {
            await foreach (int token in stream)
                tokens.Add(token);
            return ([.. tokens], null);
        }
        catch (Exception e)
        {
            return ([.. tokens], e);
        }
    }

    /// <summary>What XRunner.Run produces for <paramref name="requests"/> on its own runner (request i samples from stream i).</summary>
    public static int[][] RunnerTokens(ExecutionLayout layout, RunnerOptions options, params RunRequest[] requests)
    {
        using var runner = new XRunner(layout, options);
        return [.. runner.Run(requests).Requests.Select(r => r.Tokens)];
    }

    /// <summary>A request that ran to its end: timings ordered from arrival, the token count as streamed.</summary>
    public static void AssertFinished(RequestMetrics metrics, int streamed, string what)
    {
        Assert.Multiple(() =>
        {
            Assert.That(metrics.Cancelled, Is.False, $"{what}: not cancelled");
            Assert.That(metrics.Tokens, Is.EqualTo(streamed), $"{what}: every token was streamed");
            Assert.That(metrics.QueueSeconds, Is.GreaterThanOrEqualTo(0), $"{what}: queue time");
            Assert.That(metrics.TtftSeconds, Is.Not.Null.And.GreaterThan(0), $"{what}: TTFT");
            Assert.That(metrics.TtftSeconds, Is.GreaterThanOrEqualTo(metrics.QueueSeconds), $"{what}: encoding starts before the first token");
            Assert.That(metrics.EndToEndSeconds, Is.GreaterThanOrEqualTo(metrics.TtftSeconds!.Value), $"{what}: TTFT <= end-to-end");
            if (streamed > 1)
                Assert.That(metrics.TpotSeconds, Is.Not.Null.And.GreaterThanOrEqualTo(0), $"{what}: TPOT");
            else
                Assert.That(metrics.TpotSeconds, Is.Null, $"{what}: no TPOT for one token");
        });
    }
}
