using ExeGPT.Runner;
using ExeGPT.Simulator;
using ExeGPT.Tests.Support;
using static ExeGPT.Tests.Runner.EngineTestKit;

namespace ExeGPT.Tests.Runner;

/// <summary>Stopping the engine: disposing lets every submitted request finish, a drain timeout cancels what is still
/// queued or running (they end as cancelled, not lost), and a stopped engine refuses new requests.</summary>
[TestFixture]
public sealed class EngineLifecycleTests
{
    private static readonly ExecutionLayout Waa = new(new Schedule(Policy.WaaC, 2), [new(1, 1, 0, 2)], [new(0, 1, 0, 2)]);

    [Test]
    public async Task DisposingFinishesEverySubmittedRequest()
    {
        RunRequest[] requests = [.. Enumerable.Range(0, 6).Select(i => new RunRequest(Run.Tokens(2 + i, 128, 50 + i), 5 + i))];
        int[][] expected = RunnerTokens(Waa, Tiny(), requests);
        var engine = new ExeGptEngine(Waa, Tiny(), new EngineLimits(8, 12));
        GenerationHandle[] handles = [.. requests.Select(r => engine.Submit(new EngineRequest(r.Prompt, r.MaxNewTokens)))];
        Assert.That(Task.Run(engine.Dispose).Wait(Guard), Is.True, "dispose returned");

        for (int i = 0; i < handles.Length; i++)
        {
            var (tokens, metrics) = await Collect(handles[i]).WaitAsync(Guard);
            Assert.That(tokens, Is.EqualTo(expected[i]), $"request {i}");
            AssertFinished(metrics, tokens.Length, $"request {i}");
        }
        Assert.Throws<ObjectDisposedException>(() => engine.Submit(new EngineRequest([1], 1)));
    }

    [Test]
    public async Task ADrainTimeoutCancelsWhatIsStillRunning()
    {
        var engine = new ExeGptEngine(OneSlot(), Tiny(), new EngineLimits(8, 50));
        var firstToken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new ManualResetEventSlim();
        GenerationHandle running = engine.Submit(new EngineRequest(Run.Tokens(4, 128, 3), 50), tokenHook: _ =>
        {
            if (firstToken.TrySetResult())
                release.Wait(Guard);
        });
        await firstToken.Task.WaitAsync(Guard);
        GenerationHandle queued = engine.Submit(new EngineRequest(Run.Tokens(4, 128, 4), 50));

        Task stop = engine.StopAsync(TimeSpan.Zero);
        var refused = Assert.Throws<InvalidOperationException>(() => engine.Submit(new EngineRequest([1], 1)));
        Assert.That(refused!.Message, Does.Contain("stopping"));
        release.Set();
        await stop.WaitAsync(Guard);

        RequestMetrics runningMetrics = await running.Completion.WaitAsync(Guard);
        RequestMetrics queuedMetrics = await queued.Completion.WaitAsync(Guard);
        Assert.That(runningMetrics.Cancelled, Is.True);
        Assert.That(runningMetrics.Tokens, Is.EqualTo(1), "it stopped at its next pass");
        Assert.That(queuedMetrics.Cancelled, Is.True);
        Assert.That(queuedMetrics.Tokens, Is.Zero);
        Assert.That((await CollectUntilError(running.Tokens)).Error, Is.InstanceOf<OperationCanceledException>());
        await engine.DisposeAsync();
    }

    [Test]
    public async Task StoppingAnIdleEngineReturns()
    {
        var engine = new ExeGptEngine(Waa, Tiny(), new EngineLimits(8, 12));
        await engine.StopAsync(TimeSpan.FromSeconds(1)).WaitAsync(Guard);
        Assert.Throws<InvalidOperationException>(() => engine.Submit(new EngineRequest([1], 1)));
        await engine.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => engine.Submit(new EngineRequest([1], 1)));
    }
}
