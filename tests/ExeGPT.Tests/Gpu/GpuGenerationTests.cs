using ExeGPT.Runner;
using ExeGPT.Runtime;
using ExeGPT.Simulator;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Runner;

namespace ExeGPT.Tests.Gpu;

/// <summary>
/// Generation on CUDA device 0 end to end: the host generator and XRunner (one RRA layout) with the last stage sampling
/// on the device, the logits left there. Greedy tokens are checked step by step against the reference
/// (<see cref="GreedyAssert"/>). Skipped, with the engine's reason, where there is no CUDA backend.
/// </summary>
[TestFixture]
[Category("Gpu")]
public sealed class GpuGenerationTests
{
    private const int NewTokens = 8;

    private TinyOptCheckpoint _checkpoint = null!;
    private OptReference _reference = null!;
    private int[][] _prompts = null!;

    [OneTimeSetUp]
    public void CreateCheckpoint()
    {
        Cuda.RequireBackend();
        _checkpoint = Cuda.Checkpoint(seed: 41);
        _reference = _checkpoint.Reference();
        int vocab = _checkpoint.Spec.VocabSize;
        _prompts = [ExeGPT.Tests.Support.Run.Tokens(5, vocab, 401), ExeGPT.Tests.Support.Run.Tokens(1, vocab, 402),
            ExeGPT.Tests.Support.Run.Tokens(19, vocab, 403), ExeGPT.Tests.Support.Run.Tokens(3, vocab, 404)];
    }

    [OneTimeTearDown]
    public void DeleteCheckpoint() => _checkpoint?.Dispose();

    private static IEnumerable<TestCaseData> Cases() =>
        from dtype in Cuda.Dtypes
        from capture in new[] { false, true }
        select new TestCaseData(dtype, capture).SetArgDisplayNames($"{DtypeNames.Name(dtype)}, {(capture ? "logits captured" : "logits kept on the device")}");

    [TestCaseSource(nameof(Cases))]
    public void TheHostGeneratorSamplesOnTheDevice(exg_dtype dtype, bool captureLogits)
    {
        using var generator = new HostGenerator(new GeneratorOptions
        {
            Model = ModelSource.FromCheckpoint(_checkpoint.Directory),
            Backend = exg_backend_kind.EXG_BACKEND_CUDA,
            Dtype = dtype,
            CommTimeoutMs = 20000,
        });
        Assert.That((generator.BackendKind, generator.Dtype), Is.EqualTo((exg_backend_kind.EXG_BACKEND_CUDA, dtype)));
        GenerationResult result = generator.Generate(_prompts, NewTokens, new SamplingOptions(Greedy: true), seed: 0, captureLogits);
        for (int i = 0; i < _prompts.Length; i++)
        {
            SequenceOutput sequence = result.Sequences[i];
            Assert.That(sequence.Generated, Has.Length.EqualTo(NewTokens), $"prompt {i}");
            GreedyAssert.FollowsReference(_reference, _prompts[i], sequence.Generated, Cuda.Tolerance(dtype), $"prompt {i}");
            if (captureLogits)
                for (int k = 0; k < NewTokens; k++)
                    Assert.That(GreedyAssert.Argmax(sequence.Logits![k]), Is.EqualTo(sequence.Generated[k]),
                        $"prompt {i}, token {k}: the device's choice is the argmax of the logits handed out");
            else
                Assert.That(sequence.Logits, Is.Null);
        }
    }

    [TestCaseSource(typeof(Cuda), nameof(Cuda.DtypeCases))]
    public void XRunnerRunsAnRraLayoutOnTheDevice(exg_dtype dtype)
    {
        var layout = new ExecutionLayout(new Schedule(Policy.Rra, 3, 2), [new StagePlan(0, 1, 0, 3)], []);
        RunRequest[] requests = [.. RunnerLayouts.RaggedQueries(_checkpoint.Spec.VocabSize, 500).Select(q => new RunRequest(q.Prompt, q.Budget))];
        using var runner = new XRunner(layout, Options(dtype));
        RunResult result = runner.Run(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.That(result.Requests[i].Tokens, Has.Length.EqualTo(requests[i].MaxNewTokens), $"request {i}");
            GreedyAssert.FollowsReference(_reference, requests[i].Prompt, result.Requests[i].Tokens, Cuda.Tolerance(dtype), $"request {i}");
        }
    }

    [Test]
    public void RowsSamplingByDifferentRulesAreSampledOnTheHost()
    {
        // Half the queries sample (their logits go to the host, each by its own rule); the greedy half must still follow
        // the reference, and every sampled token must be a valid id.
        var layout = new ExecutionLayout(new Schedule(Policy.Rra, 4, 2), [new StagePlan(0, 1, 0, 3)], []);
        var hot = new SamplingOptions(Greedy: false, Temperature: 0.9f, TopK: 20);
        RunRequest[] requests = [.. RunnerLayouts.RaggedQueries(_checkpoint.Spec.VocabSize, 600)
            .Select((q, i) => new RunRequest(q.Prompt, q.Budget, i % 2 == 0 ? null : hot))];
        using var runner = new XRunner(layout, Options(exg_dtype.EXG_DTYPE_BF16));
        RunResult result = runner.Run(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            int[] tokens = result.Requests[i].Tokens;
            Assert.That(tokens, Has.Length.EqualTo(requests[i].MaxNewTokens).And.All.InRange(0, _checkpoint.Spec.VocabSize - 1), $"request {i}");
            if (requests[i].Sampling is null)
                GreedyAssert.FollowsReference(_reference, requests[i].Prompt, tokens, Cuda.Tolerance(exg_dtype.EXG_DTYPE_BF16), $"request {i}");
        }
    }

    private RunnerOptions Options(exg_dtype dtype) => new()
    {
        Model = ModelSource.FromCheckpoint(_checkpoint.Directory),
        Backend = exg_backend_kind.EXG_BACKEND_CUDA,
        Dtype = dtype,
        CommTimeoutMs = 20000,
    };
}
