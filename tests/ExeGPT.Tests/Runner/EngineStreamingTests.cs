using ExeGPT.Runner;
using ExeGPT.Simulator;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Runtime;
using ExeGPT.Tests.Support;
using static ExeGPT.Tests.Runner.EngineTestKit;

namespace ExeGPT.Tests.Runner;

/// <summary>
/// ExeGptEngine streams, under every policy and layout, exactly the greedy tokens of the independent reference while
/// requests arrive concurrently from several tasks; sampled requests get the tokens XRunner.Run gives them; every
/// request's metrics are ordered from its arrival.
/// </summary>
[TestFixture]
public sealed class EngineStreamingTests
{
    private TinyOptCheckpoint _checkpoint = null!;
    private EngineRequest[] _requests = null!;
    private Continuation[] _expected = null!;

    [OneTimeSetUp]
    public void CreateCheckpointAndExpectations()
    {
        _checkpoint = RunnerLayouts.Checkpoint(seed: 41);
        _requests = [.. RunnerLayouts.RaggedQueries(_checkpoint.Spec.VocabSize, 700).Select(q => new EngineRequest(q.Prompt, q.Budget))];
        OptReference reference = _checkpoint.Reference();
        _expected = [.. _requests.Select(r => GreedyReference.Generate(reference, r.PromptTokens, r.MaxNewTokens))];
    }

    [OneTimeTearDown]
    public void DeleteCheckpoint() => _checkpoint.Dispose();

    private ExeGptEngine Engine(ExecutionLayout layout) =>
        new(layout, RunnerLayouts.Options(_checkpoint.Directory), new EngineLimits(11, 9, ExpectedNewTokens: 5));

    [TestCaseSource(typeof(RunnerLayouts), nameof(RunnerLayouts.All))]
    public async Task ConcurrentSubmissionsStreamTheReferenceTokens(ExecutionLayout layout)
    {
        await using ExeGptEngine engine = Engine(layout);
        // Four clients, each submitting its three requests one after another and reading each stream as it comes.
        var results = new (int[] Tokens, RequestMetrics Metrics)[_requests.Length];
        await Task.WhenAll(Enumerable.Range(0, 4).Select(client => Task.Run(async () =>
        {
            for (int i = client; i < _requests.Length; i += 4)
                results[i] = await Collect(engine.Submit(_requests[i]));
        }))).WaitAsync(Guard);

        for (int i = 0; i < _requests.Length; i++)
        {
            GenerationAssert.Matches(results[i].Tokens, null, _expected[i], $"{layout.Schedule}, request {i}");
            AssertFinished(results[i].Metrics, results[i].Tokens.Length, $"request {i}");
        }
        Assert.That(engine.ActiveRequests, Is.Zero, "every request ended");
    }

    [Test]
    public async Task RequestsSubmittedAllAtOnceStreamTheReferenceTokens()
    {
        // WAA with decoder micro-batches: requests join running batches while earlier ones are mid-generation.
        var layout = new ExecutionLayout(new Schedule(Policy.WaaC, 2, MicroBatches: 2), [new(1, 1, 0, 2), new(2, 1, 2, 3)], [new(0, 1, 0, 3)]);
        await using ExeGptEngine engine = Engine(layout);
        GenerationHandle[] handles = [.. _requests.Select(r => engine.Submit(r))];
        var results = await Task.WhenAll(handles.Select(Collect)).WaitAsync(Guard);
        for (int i = 0; i < _requests.Length; i++)
            GenerationAssert.Matches(results[i].Tokens, null, _expected[i], $"request {i}");
    }

    [Test]
    public async Task GenerateAsyncYieldsTheReferenceTokens()
    {
        await using ExeGptEngine engine = Engine(new ExecutionLayout(new Schedule(Policy.Rra, 2, 2), [new(0, 1, 0, 2), new(1, 1, 2, 3)], []));
        for (int i = 0; i < 3; i++)
        {
            var tokens = new List<int>();
            await foreach (int token in engine.GenerateAsync(_requests[i]))
                tokens.Add(token);
            GenerationAssert.Matches([.. tokens], null, _expected[i], $"request {i}");
        }
    }

    [Test]
    public async Task SampledRequestsGetTheTokensXRunnerGivesThem()
    {
        var layout = new ExecutionLayout(new Schedule(Policy.Rra, 2, 3), [new(0, 1, 0, 1), new(1, 1, 1, 2)], []);
        var sampling = new SamplingOptions(Greedy: false, Temperature: 0.9f, TopK: 20, TopP: 0.95f);
        var request = new RunRequest(Run.Tokens(6, 128, 77), 12, sampling);
        // Request i samples from stream i of the run's seed: the engine's first request is XRunner.Run's request 0.
        int[] expected = RunnerTokens(layout, Tiny(), request)[0];

        await using var engine = new ExeGptEngine(layout, Tiny(), new EngineLimits(8, 16));
        var (tokens, metrics) = await Collect(engine.Submit(new EngineRequest(request.Prompt, request.MaxNewTokens, sampling))).WaitAsync(Guard);

        Assert.That(tokens, Is.EqualTo(expected));
        AssertFinished(metrics, tokens.Length, "sampled request");
    }

    [Test]
    public async Task TheEndOfSequenceTokenEndsAStreamEarly()
    {
        var layout = new ExecutionLayout(new Schedule(Policy.Continuous, 2), [new(0, 1, 0, 2)], []);
        var prompt = Run.Tokens(5, 128, 5);
        int[] free = RunnerTokens(layout, Tiny(), new RunRequest(prompt, 10))[0];
        int eos = free[3];
        int stop = Array.IndexOf(free, eos) + 1;   // the first occurrence ends it

        await using var engine = new ExeGptEngine(layout, Tiny() with { EosTokenId = eos }, new EngineLimits(8, 10));
        var (tokens, metrics) = await Collect(engine.Submit(new EngineRequest(prompt, 10))).WaitAsync(Guard);

        Assert.That(tokens, Is.EqualTo(free[..stop]));
        AssertFinished(metrics, stop, "stopped at end-of-sequence");
    }
}
