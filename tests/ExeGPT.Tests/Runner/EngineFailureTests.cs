using ExeGPT.Runner;
using ExeGPT.Simulator;
using ExeGPT.Tests.Support;
using static ExeGPT.Tests.Runner.EngineTestKit;

namespace ExeGPT.Tests.Runner;

/// <summary>
/// A stage or rank that fails while requests wait and run ends every one of them with the failure's own error (the
/// same root-cause exception, on the stream and on the completion), nothing hangs, and the engine refuses further
/// requests naming the failure. The first request holds its stage at its first token until the others are queued and
/// the failure is armed, so every case fails with requests waiting and (but for a WAA encoder, which the running
/// request no longer needs) one in flight.
/// </summary>
[TestFixture]
public sealed class EngineFailureTests
{
    private static IEnumerable<TestCaseData> Failures()
    {
        var rra = new ExecutionLayout(new Schedule(Policy.Rra, 2, 2), [new(0, 1, 0, 1), new(1, 1, 1, 2)], []);
        var tp = new ExecutionLayout(new Schedule(Policy.Rra, 2, 2, TpDegree: 2, TpGroups: 1), [new(0, 2, 0, 2)], []);
        var waa = new ExecutionLayout(new Schedule(Policy.WaaC, 2), [new(1, 1, 0, 2)], [new(0, 1, 0, 2)]);
        var continuous = new ExecutionLayout(new Schedule(Policy.Continuous, 2), [new(0, 1, 0, 1), new(1, 1, 1, 2)], []);
        yield return new TestCaseData(rra, 1, 0, false).SetArgDisplayNames("rra last stage");
        yield return new TestCaseData(rra, 0, 0, false).SetArgDisplayNames("rra first stage");
        yield return new TestCaseData(tp, 0, 1, false).SetArgDisplayNames("tp rank 1");
        yield return new TestCaseData(waa, 0, 0, false).SetArgDisplayNames("waa decoder");
        yield return new TestCaseData(waa, 0, 0, true).SetArgDisplayNames("waa encoder");
        yield return new TestCaseData(continuous, 1, 0, false).SetArgDisplayNames("continuous");
    }

    [TestCaseSource(nameof(Failures))]
    public async Task AFailingStageFaultsEveryWaitingRequestWithItsOwnError(ExecutionLayout layout, int stage, int rank, bool encoder)
    {
        var engine = new ExeGptEngine(layout, Tiny(), new EngineLimits(8, 24, ExpectedNewTokens: 12));
        try
        {
            var firstToken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var release = new ManualResetEventSlim();
            var handles = new List<GenerationHandle>
            {
                engine.Submit(new EngineRequest(Run.Tokens(5, 128, 1), 24), tokenHook: _ =>
                {
                    if (firstToken.TrySetResult())
                        release.Wait(Guard);
                }),
            };
            await firstToken.Task.WaitAsync(Guard);
            for (int i = 0; i < 7; i++)
                handles.Add(engine.Submit(new EngineRequest(Run.Tokens(3 + i % 4, 128, 20 + i), 20)));
            engine.InjectFailure(stage, rank, step: 1, encoder);
            release.Set();

            var streams = await Task.WhenAll(handles.Select(h => CollectUntilError(h.Tokens))).WaitAsync(Guard);
            Exception root = streams[1].Error!;
            Assert.That(root, Is.Not.Null, "a waiting request's stream faults");
            Assert.That(root.Message, Does.Contain($"injected failure on stage {stage} rank {rank}"));
            int first = 0;
            if (encoder && streams[0].Error is null)
            {
                // WAA: the running request sits on the decoders and may finish before the encoders fail.
                Assert.That((await handles[0].Completion).Tokens, Is.EqualTo(24), "the running request finished");
                first = 1;
            }
            else
            {
                Assert.That(streams[0].Tokens, Is.Not.Empty, "the running request streamed its tokens before the failure");
            }
            for (int i = first; i < handles.Count; i++)
            {
                Assert.That(streams[i].Error, Is.SameAs(root), $"request {i}: its stream ends with the root cause");
                Exception? completion = Assert.CatchAsync(async () => await handles[i].Completion.WaitAsync(Guard));
                Assert.That(completion, Is.SameAs(root), $"request {i}: its completion faults with the root cause");
            }

            var refused = Assert.Throws<InvalidOperationException>(() => engine.Submit(new EngineRequest([1, 2], 2)));
            Assert.That(refused!.Message, Does.Contain("injected failure"), "the refusal names the failure");
            Assert.That(refused.InnerException, Is.SameAs(root));
            Assert.That(engine.ActiveRequests, Is.Zero);
        }
        finally
        {
            // Disposing a failed engine must return too.
            Assert.That(Task.Run(engine.Dispose).Wait(Guard), Is.True, "dispose returned");
        }
    }
}
