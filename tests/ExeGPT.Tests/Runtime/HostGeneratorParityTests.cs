using ExeGPT.Runtime;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runtime;

/// <summary>
/// Greedy generation through the host runtime (ragged prefill, batched decode, slot bookkeeping,
/// sharding over TP ranks and pipeline stages) against the reference recomputing every prefix from scratch.
/// </summary>
[TestFixture]
public sealed class HostGeneratorParityTests
{
    private const int NewTokens = 6;

    private TinyOptCheckpoint _checkpoint = null!;
    private int[][] _prompts = null!;
    private Continuation[] _expected = null!;

    [OneTimeSetUp]
    public void CreateCheckpointAndExpectations()
    {
        _checkpoint = TinyOptCheckpoint.Create(seed: 21);
        int vocab = _checkpoint.Spec.VocabSize;
        // Ragged on purpose: a one-token prompt, and lengths that differ by more than the decode length.
        _prompts = [Run.Tokens(5, vocab, 301), Run.Tokens(1, vocab, 302), Run.Tokens(11, vocab, 303), Run.Tokens(3, vocab, 304)];
        var reference = _checkpoint.Reference();
        _expected = [.. _prompts.Select(p => GreedyReference.Generate(reference, p, NewTokens))];
    }

    [OneTimeTearDown]
    public void DeleteCheckpoint() => _checkpoint.Dispose();

    [TestCase(1, 1)]
    [TestCase(2, 1)]
    [TestCase(1, 2)]
    [TestCase(2, 2)]
    public void GreedyBatchMatchesReference(int tp, int stages)
    {
        using var generator = Generators.ForCheckpoint(_checkpoint.Directory, tp, stages);
        var result = generator.Generate(_prompts, NewTokens, Generators.Greedy, seed: 0, captureLogits: true);

        Assert.That(result.Sequences, Has.Count.EqualTo(_prompts.Length));
        for (int i = 0; i < _prompts.Length; i++)
        {
            var sequence = result.Sequences[i];
            Assert.That(sequence.Prompt, Is.EqualTo(_prompts[i]), $"prompt {i} echoed");
            Assert.That(sequence.Reason, Is.EqualTo(FinishReason.Length), $"prompt {i}");
            GenerationAssert.Matches(sequence.Generated, sequence.Logits, _expected[i], $"tp {tp} x stages {stages}, prompt {i}");
        }
    }

    [Test]
    public void WithoutCaptureNoLogitsAreReturned()
    {
        using var generator = Generators.ForCheckpoint(_checkpoint.Directory);
        var result = generator.Generate(_prompts, NewTokens, Generators.Greedy, seed: 0, captureLogits: false);
        for (int i = 0; i < _prompts.Length; i++)
        {
            Assert.That(result.Sequences[i].Logits, Is.Null);
            GenerationAssert.Matches(result.Sequences[i].Generated, null, _expected[i], $"prompt {i}");
        }
    }

    [Test]
    public void StatsCountPrefillAndDecodeWork()
    {
        using var generator = Generators.ForCheckpoint(_checkpoint.Directory);
        var stats = generator.Generate(_prompts, NewTokens, Generators.Greedy, seed: 0, captureLogits: false).Stats;
        // The prefill yields every sequence's first token; each later token costs one decode step per live sequence.
        Assert.That(stats.PrefillTokens, Is.EqualTo(5 + 1 + 11 + 3));
        Assert.That(stats.DecodeSteps, Is.EqualTo(NewTokens - 1));
        Assert.That(stats.DecodedTokens, Is.EqualTo(_prompts.Length * (NewTokens - 1)));
        Assert.That(stats.DecodeTokensPerSecond, Is.GreaterThan(0));
    }

    [Test]
    public void ShardingIsReportedAsRequested()
    {
        using var generator = Generators.ForCheckpoint(_checkpoint.Directory, tp: 2, stages: 2);
        Assert.That(generator.TensorParallel, Is.EqualTo(2));
        Assert.That(generator.StageLayers, Is.EqualTo(new[] { new LayerRange(0, 1), new LayerRange(1, 2) }));
    }

    [Test]
    public void UnevenStagesOnPostLnGeluProjectedModelMatchReference()
    {
        // 3 layers over 2 stages (2 + 1), post-LN with project_in/out: the OPT-350m layout.
        var spec = new OptSpec { NumLayers = 3, PreLayerNorm = false, Activation = "gelu", WordEmbedProjDim = 16 };
        using var checkpoint = TinyOptCheckpoint.Create(spec, seed: 22);
        var reference = checkpoint.Reference();
        int[][] prompts = [Run.Tokens(4, spec.VocabSize, 311), Run.Tokens(7, spec.VocabSize, 312)];

        using var generator = Generators.ForCheckpoint(checkpoint.Directory, tp: 2, stages: 2);
        Assert.That(generator.StageLayers, Is.EqualTo(new[] { new LayerRange(0, 2), new LayerRange(2, 3) }));
        var result = generator.Generate(prompts, 5, Generators.Greedy, seed: 0, captureLogits: true);
        for (int i = 0; i < prompts.Length; i++)
        {
            GenerationAssert.Matches(result.Sequences[i].Generated, result.Sequences[i].Logits,
                GreedyReference.Generate(reference, prompts[i], 5), $"prompt {i}");
        }
    }

    [Test]
    public void RequestFillingMaxPositionsWorks()
    {
        // prompt + new tokens == max_positions.
        var spec = new OptSpec { MaxPositions = 24 };
        using var checkpoint = TinyOptCheckpoint.Create(spec, seed: 23);
        var reference = checkpoint.Reference();
        int[][] prompts = [Run.Tokens(3, spec.VocabSize, 321), Run.Tokens(20, spec.VocabSize, 322)];

        using var generator = Generators.ForCheckpoint(checkpoint.Directory);
        var result = generator.Generate(prompts, 4, Generators.Greedy, seed: 0, captureLogits: true);
        for (int i = 0; i < prompts.Length; i++)
        {
            GenerationAssert.Matches(result.Sequences[i].Generated, result.Sequences[i].Logits,
                GreedyReference.Generate(reference, prompts[i], 4), $"prompt {i}");
        }
    }

    [Test]
    public void PromptOfExactlyMaxPositionsCanStillYieldOneToken()
    {
        // The prefill fills every position; the one sampled token is never fed back, so it needs no
        // position of its own (Hugging Face generate accepts this request).
        var spec = new OptSpec { MaxPositions = 24 };
        using var checkpoint = TinyOptCheckpoint.Create(spec, seed: 24);
        var reference = checkpoint.Reference();
        int[][] prompts = [Run.Tokens(2, spec.VocabSize, 331), Run.Tokens(spec.MaxPositions, spec.VocabSize, 332)];

        using var generator = Generators.ForCheckpoint(checkpoint.Directory);
        var result = generator.Generate(prompts, 1, Generators.Greedy, seed: 0, captureLogits: true);
        for (int i = 0; i < prompts.Length; i++)
        {
            GenerationAssert.Matches(result.Sequences[i].Generated, result.Sequences[i].Logits,
                GreedyReference.Generate(reference, prompts[i], 1), $"prompt {i}");
        }
    }
}
