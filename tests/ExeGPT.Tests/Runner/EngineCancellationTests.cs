using ExeGPT.Runner;
using ExeGPT.Tests.Support;
using static ExeGPT.Tests.Runner.EngineTestKit;

namespace ExeGPT.Tests.Runner;

/// <summary>
/// Cancellation on a layout whose caches hold exactly one running row (continuous batching, B = 1): a cancelled
/// request ends with the tokens it had and an <see cref="OperationCanceledException"/>, and its slot serves the next
/// request — were it not freed, nothing after it could run. Cancels land at an exact token through the engine's test
/// hook (it runs on the stage thread), so no outcome depends on timing.
/// </summary>
[TestFixture]
public sealed class EngineCancellationTests
{
    private static readonly int[] LongPrompt = Run.Tokens(6, 128, 11);
    private static readonly int[] ShortPrompt = Run.Tokens(4, 128, 12);

    private static ExeGptEngine Engine() => new(OneSlot(), Tiny(), new EngineLimits(8, 100, ExpectedNewTokens: 10));

    [Test]
    public async Task CancellingMidStreamEndsTheRequestAndFreesItsSlot()
    {
        int[][] expected = RunnerTokens(OneSlot(), Tiny(), new RunRequest(LongPrompt, 100), new RunRequest(ShortPrompt, 7));
        await using ExeGptEngine engine = Engine();
        var handleSet = new ManualResetEventSlim();
        GenerationHandle handle = null!;
        int seen = 0;
        handle = engine.Submit(new EngineRequest(LongPrompt, 100), tokenHook: _ =>
        {
            if (++seen == 3)
            {
                handleSet.Wait(Guard);
                handle.Cancel();
            }
        });
        handleSet.Set();

        var (tokens, error) = await CollectUntilError(handle.Tokens).WaitAsync(Guard);
        RequestMetrics metrics = await handle.Completion.WaitAsync(Guard);

        Assert.That(error, Is.InstanceOf<OperationCanceledException>(), "the stream ends with a cancellation");
        Assert.That(tokens, Is.EqualTo(expected[0][..3]), "the tokens before the cancel were streamed");
        Assert.That(metrics.Cancelled, Is.True);
        Assert.That(metrics.Tokens, Is.EqualTo(3));
        Assert.That(metrics.EndToEndSeconds, Is.GreaterThanOrEqualTo(metrics.TtftSeconds!.Value));

        var (next, nextMetrics) = await Collect(engine.Submit(new EngineRequest(ShortPrompt, 7))).WaitAsync(Guard);
        Assert.That(next, Is.EqualTo(expected[1]), "the freed slot serves the next request correctly");
        AssertFinished(nextMetrics, next.Length, "next request");
        Assert.That(engine.ActiveRequests, Is.Zero);
    }

    [Test]
    public async Task CancellingAQueuedRequestEndsItWithoutTokens()
    {
        int[][] expected = RunnerTokens(OneSlot(), Tiny(), new RunRequest(LongPrompt, 20), new RunRequest(ShortPrompt, 5));
        await using ExeGptEngine engine = Engine();
        var firstToken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new ManualResetEventSlim();
        // The running request holds the only slot (its stage waits at its first token) while another one queues.
        GenerationHandle running = engine.Submit(new EngineRequest(LongPrompt, 20), tokenHook: _ =>
        {
            if (firstToken.TrySetResult())
                release.Wait(Guard);
        });
        await firstToken.Task.WaitAsync(Guard);
        GenerationHandle queued = engine.Submit(new EngineRequest(ShortPrompt, 5));
        queued.Cancel();
        release.Set();

        var (tokens, error) = await CollectUntilError(queued.Tokens).WaitAsync(Guard);
        RequestMetrics metrics = await queued.Completion.WaitAsync(Guard);
        Assert.That(error, Is.InstanceOf<OperationCanceledException>());
        Assert.That(tokens, Is.Empty);
        Assert.That(metrics, Is.EqualTo(metrics with { Tokens = 0, Cancelled = true, TtftSeconds = null, TpotSeconds = null }));
        Assert.That(metrics.QueueSeconds, Is.EqualTo(metrics.EndToEndSeconds), "it waited in the queue until it was dropped");

        var (longTokens, longMetrics) = await Collect(running).WaitAsync(Guard);
        Assert.That(longTokens, Is.EqualTo(expected[0]), "the running request is untouched");
        AssertFinished(longMetrics, longTokens.Length, "running request");
        var (next, _) = await Collect(engine.Submit(new EngineRequest(ShortPrompt, 5))).WaitAsync(Guard);
        Assert.That(next, Is.EqualTo(expected[1]));
    }

    [Test]
    public async Task TheSubmitTokenCancelsTheRequest()
    {
        await using ExeGptEngine engine = Engine();
        using var cts = new CancellationTokenSource();
        int seen = 0;
        // Cancelling runs the registration synchronously, here on the stage thread, right after the second token.
        GenerationHandle handle = engine.Submit(new EngineRequest(LongPrompt, 100), tokenHook: _ =>
        {
            if (++seen == 2)
                cts.Cancel();
        }, cts.Token);

        var (tokens, error) = await CollectUntilError(handle.Tokens).WaitAsync(Guard);
        RequestMetrics metrics = await handle.Completion.WaitAsync(Guard);

        Assert.That(tokens, Has.Length.EqualTo(2));
        Assert.That(error, Is.InstanceOf<OperationCanceledException>());
        Assert.That(((OperationCanceledException)error!).CancellationToken, Is.EqualTo(cts.Token), "the caller's token is named");
        Assert.That(metrics.Cancelled, Is.True);
        Assert.That(metrics.Tokens, Is.EqualTo(2));
        var (next, _) = await Collect(engine.Submit(new EngineRequest(ShortPrompt, 4))).WaitAsync(Guard);
        Assert.That(next, Has.Length.EqualTo(4), "the slot was freed");
    }

    [Test]
    public async Task CancellingGenerateAsyncStopsTheEnumeration()
    {
        await using ExeGptEngine engine = Engine();
        using var cts = new CancellationTokenSource();
        var tokens = new List<int>();
        Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () =>
        {
            await foreach (int token in engine.GenerateAsync(new EngineRequest(LongPrompt, 100), cts.Token))
            {
                tokens.Add(token);
                if (tokens.Count == 2)
                    cts.Cancel();
            }
        });
        Assert.That(tokens, Has.Count.EqualTo(2), "nothing is yielded after the cancel");
        var (next, _) = await Collect(engine.Submit(new EngineRequest(ShortPrompt, 4))).WaitAsync(Guard);
        Assert.That(next, Has.Length.EqualTo(4), "the engine serves on");
    }

    [Test]
    public void AnAlreadyCancelledTokenRefusesTheRequest()
    {
        using ExeGptEngine engine = Engine();
        Assert.Throws(Is.InstanceOf<OperationCanceledException>(),
            () => engine.Submit(new EngineRequest(ShortPrompt, 4), new CancellationToken(canceled: true)));
        Assert.That(engine.ActiveRequests, Is.Zero);
    }

    [Test]
    public async Task CancellingAFinishedRequestChangesNothing()
    {
        await using ExeGptEngine engine = Engine();
        GenerationHandle handle = engine.Submit(new EngineRequest(ShortPrompt, 4));
        var (tokens, metrics) = await Collect(handle).WaitAsync(Guard);
        handle.Cancel();
        Assert.That(metrics.Cancelled, Is.False);
        Assert.That(await handle.Completion, Is.SameAs(metrics));
        Assert.That(tokens, Has.Length.EqualTo(4));
    }
}
