using ExeGPT.Runtime;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runtime;

/// <summary>Bad requests and shardings are refused up front, with messages that name the culprit, and leave the generator usable.</summary>
[TestFixture]
public sealed class HostGeneratorValidationTests
{
    private const int MaxPositions = 24;

    private TinyOptCheckpoint _checkpoint = null!;
    private HostGenerator _generator = null!;

    private int Vocab => _checkpoint.Spec.VocabSize;

    [OneTimeSetUp]
    public void CreateGenerator()
    {
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { MaxPositions = MaxPositions }, seed: 41);
        _generator = Generators.ForCheckpoint(_checkpoint.Directory);
    }

    [OneTimeTearDown]
    public void DisposeGenerator()
    {
        _generator.Dispose();
        _checkpoint.Dispose();
    }

    private void Rejects(IReadOnlyList<int[]> prompts, int maxNewTokens = 4, string[]? fragments = null)
    {
        var ex = Assert.Throws(Is.InstanceOf<ArgumentException>(),
            () => _generator.Generate(prompts, maxNewTokens, Generators.Greedy, seed: 0, captureLogits: false))!;
        TestContext.Out.WriteLine(ex.Message);
        foreach (var fragment in fragments ?? [])
        {
            Assert.That(ex.Message, Does.Contain(fragment));
        }
    }

    [Test]
    public void EmptyPromptIsNamed() => Rejects([[1, 2], [], [3]], fragments: ["Prompt 1"]);

    // Feeding prompt + new tokens - 1 tokens needs 25 positions here: one more than the model has.
    [Test]
    public void TooLongRequestIsNamed() =>
        Rejects([[1], [2, 3], Run.Tokens(MaxPositions - 2, Vocab, 1)], maxNewTokens: 4, ["Prompt 2", $"{MaxPositions}"]);

    [Test]
    public void PromptLongerThanMaxPositionsIsNamed() =>
        Rejects([[1], Run.Tokens(MaxPositions + 1, Vocab, 2)], maxNewTokens: 1, ["Prompt 1", $"{MaxPositions}"]);

    [Test]
    public void TokenOutsideTheVocabularyIsNamed() => Rejects([[1, 2], [3, 4, Vocab]], fragments: ["Prompt 1", "position 2", $"{Vocab}"]);

    [Test]
    public void NegativeTokenIsNamed() => Rejects([[5], [3], [-1, 4]], fragments: ["Prompt 2", "position 0"]);

    [Test]
    public void NoPromptsIsRejected() => Rejects([]);

    [TestCase(0)]
    [TestCase(-3)]
    public void NonPositiveMaxNewTokensIsRejected(int maxNewTokens) => Rejects([[1, 2]], maxNewTokens);

    [Test]
    public void EosOutsideTheVocabularyIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            _generator.Generate([[1, 2]], 2, Generators.Greedy, seed: 0, captureLogits: false, eosTokenId: Vocab));
    }

    [TestCase(0f, 1f)]
    [TestCase(-1f, 1f)]
    [TestCase(float.NaN, 1f)]
    [TestCase(1f, 0f)]
    [TestCase(1f, 1.5f)]
    public void BadSamplingOptionsAreRejected(float temperature, float topP)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _generator.Generate([[1, 2]], 2,
            new SamplingOptions(Greedy: false, Temperature: temperature, TopP: topP), seed: 0, captureLogits: false));
    }

    [Test]
    public void GeneratorStillWorksAfterRejectedRequests()
    {
        Rejects([[1, 2], [Vocab + 5]]);
        Rejects([[1, 2], []]);
        int[] prompt = [7, 8, 9];
        var result = _generator.Generate([prompt], 3, Generators.Greedy, seed: 0, captureLogits: true);
        GenerationAssert.Matches(result.Sequences[0].Generated, result.Sequences[0].Logits,
            GreedyReference.Generate(_checkpoint.Reference(), prompt, 3), "after rejected requests");
    }

    [TestCase(0, 1)]
    [TestCase(-1, 1)]
    [TestCase(1, 0)]
    [TestCase(1, 3)] // more stages than the 2 layers
    public void BadShardingIsRejected(int tp, int stages)
    {
        Assert.Throws(Is.InstanceOf<ArgumentException>(), () => Generators.ForCheckpoint(_checkpoint.Directory, tp, stages));
    }

    [Test]
    public void TensorParallelMustDivideTheHeads()
    {
        // 4 heads and ffn 64 split over 3 ranks: the engine refuses the shard.
        var ex = Assert.Throws<ExgException>(() => Generators.ForCheckpoint(_checkpoint.Directory, tp: 3))!;
        TestContext.Out.WriteLine($"{ex.Status}: {ex.Message}");
        Assert.That(ex.Status, Is.EqualTo(exg_status.EXG_ERR_INVALID_ARGUMENT));
    }
}
