using ExeGPT.Runner;
using ExeGPT.Simulator;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Runtime;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runner;

/// <summary>
/// XRunner's greedy tokens under every policy and layout against the independent reference (every prefix
/// recomputed from scratch): batching, micro-batches, early termination, compaction, the WAA KV hand-off by parts
/// and continuous admission must not change what a query generates.
/// </summary>
[TestFixture]
public sealed class XRunnerParityTests
{
    private TinyOptCheckpoint _checkpoint = null!;
    private RunRequest[] _requests = null!;
    private Continuation[] _expected = null!;

    [OneTimeSetUp]
    public void CreateCheckpointAndExpectations()
    {
        _checkpoint = RunnerLayouts.Checkpoint(seed: 33);
        _requests = [.. RunnerLayouts.RaggedQueries(_checkpoint.Spec.VocabSize, 500).Select(q => new RunRequest(q.Prompt, q.Budget))];
        OptReference reference = _checkpoint.Reference();
        _expected = [.. _requests.Select(r => GreedyReference.Generate(reference, r.Prompt, r.MaxNewTokens))];
    }

    [OneTimeTearDown]
    public void DeleteCheckpoint() => _checkpoint.Dispose();

    [TestCaseSource(typeof(RunnerLayouts), nameof(RunnerLayouts.All))]
    public void GreedyTokensMatchTheReference(ExecutionLayout layout)
    {
        using var runner = new XRunner(layout, RunnerLayouts.Options(_checkpoint.Directory));
        RunResult result = runner.Run(_requests);

        Assert.That(result.Requests, Has.Count.EqualTo(_requests.Length));
        for (int i = 0; i < _requests.Length; i++)
        {
            RequestRecord record = result.Requests[i];
            GenerationAssert.Matches(record.Tokens, null, _expected[i], $"{layout.Schedule}, request {i}");
            Assert.That(record.Started, Is.LessThanOrEqualTo(record.FirstToken), $"request {i}: started before its first token");
            Assert.That(record.FirstToken, Is.LessThanOrEqualTo(record.Finished), $"request {i}: first token before the end");
        }
        Assert.That(result.EncoderBatches.Sum(b => b.Queries), Is.EqualTo(_requests.Length), "every query encoded once");
    }

    [TestCaseSource(typeof(RunnerLayouts), nameof(RunnerLayouts.All))]
    public void ASecondRunOnTheSameRunnerGivesTheSameTokens(ExecutionLayout layout)
    {
        using var runner = new XRunner(layout, RunnerLayouts.Options(_checkpoint.Directory));
        RunResult first = runner.Run(_requests);
        RunResult second = runner.Run(_requests.Reverse().ToArray());
        for (int i = 0; i < _requests.Length; i++)
            Assert.That(second.Requests[_requests.Length - 1 - i].Tokens, Is.EqualTo(first.Requests[i].Tokens), $"request {i}");
    }
}
