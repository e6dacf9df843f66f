using ExeGPT.Runner;
using ExeGPT.Simulator;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runner;

/// <summary>A rank or stage that fails mid-run fails the run with its own error (not a peer's collective abort, not
/// a hang), and the runner refuses further work instead of running on a broken pipeline.</summary>
[TestFixture]
public sealed class XRunnerFaultTests
{
    private static RunRequest[] Requests(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new RunRequest(Run.Tokens(3 + i % 5, 128, 900 + i), 4 + i % 3))];

    private static XRunner Runner(ExecutionLayout layout) => new(layout, new RunnerOptions
    {
        Model = ExeGPT.Runtime.ModelSource.Resolve("tiny"),
        ThreadsPerDevice = 1,
        CommTimeoutMs = 20000,
    });

    private static IEnumerable<TestCaseData> Failures()
    {
        var rra = new ExecutionLayout(new Schedule(Policy.Rra, 3, 2), [new(0, 1, 0, 1), new(1, 1, 1, 2)], []);
        var tp = new ExecutionLayout(new Schedule(Policy.Rra, 3, 2, TpDegree: 2, TpGroups: 1), [new(0, 2, 0, 2)], []);
        var waa = new ExecutionLayout(new Schedule(Policy.WaaC, 3), [new(1, 1, 0, 2)], [new(0, 1, 0, 2)]);
        yield return new TestCaseData(rra, 1, 0, 5, false).SetArgDisplayNames("rra last stage");
        yield return new TestCaseData(tp, 0, 1, 4, false).SetArgDisplayNames("tp rank 1");
        yield return new TestCaseData(waa, 0, 0, 6, false).SetArgDisplayNames("waa decoder");
        yield return new TestCaseData(waa, 0, 0, 2, true).SetArgDisplayNames("waa encoder");
    }

    [TestCaseSource(nameof(Failures))]
    public void AFailingStageFailsTheRunWithItsOwnError(ExecutionLayout layout, int stage, int rank, int step, bool encoder)
    {
        using XRunner runner = Runner(layout);
        runner.InjectFailure(stage, rank, step, encoder);
        var run = Task.Run(() => runner.Run(Requests(12)));
        bool returned = ((IAsyncResult)run).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60));
        Assert.That(returned, Is.True, "the run returned instead of hanging");
        Exception? failure = run.Exception?.InnerException;
        Assert.That(failure, Is.Not.Null, "the run failed");
        Assert.That(failure!.Message, Does.Contain($"injected failure on stage {stage} rank {rank}"));
        Assert.Throws<InvalidOperationException>(() => runner.Run(Requests(2)), "a failed runner takes no more work");
    }
}
