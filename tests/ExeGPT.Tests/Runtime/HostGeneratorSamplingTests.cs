using ExeGPT.Runtime;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runtime;

/// <summary>
/// Seeded sampling: sequence i draws from its own stream Sampler.RngInit(seed, i), so runs repeat for
/// a seed, differ across seeds, and one sequence's tokens do not depend on its batch mates.
/// </summary>
[TestFixture]
public sealed class HostGeneratorSamplingTests
{
    private const int NewTokens = 8;
    private static readonly SamplingOptions Sampled = new(Greedy: false, Temperature: 1.5f);

    private TinyOptCheckpoint _checkpoint = null!;
    private HostGenerator _generator = null!;
    private int[][] _prompts = null!;

    private int Vocab => _checkpoint.Spec.VocabSize;

    [OneTimeSetUp]
    public void CreateGenerator()
    {
        _checkpoint = TinyOptCheckpoint.Create(seed: 51);
        _generator = Generators.ForCheckpoint(_checkpoint.Directory);
        _prompts = [Run.Tokens(3, Vocab, 501), Run.Tokens(6, Vocab, 502), Run.Tokens(2, Vocab, 503)];
    }

    [OneTimeTearDown]
    public void DisposeGenerator()
    {
        _generator.Dispose();
        _checkpoint.Dispose();
    }

    private int[][] Sample(IReadOnlyList<int[]> prompts, ulong seed) =>
        [.. _generator.Generate(prompts, NewTokens, Sampled, seed, captureLogits: false).Sequences.Select(s => s.Generated)];

    [Test]
    public void SameSeedRepeatsAndAnotherSeedDiffers()
    {
        var first = Sample(_prompts, seed: 7);
        var again = Sample(_prompts, seed: 7);
        var other = Sample(_prompts, seed: 8);
        Assert.That(again, Is.EqualTo(first));
        Assert.That(other, Is.Not.EqualTo(first));
    }

    [Test]
    public void EachSequenceFollowsItsOwnRngStream()
    {
        const ulong seed = 99;
        var result = _generator.Generate(_prompts, NewTokens, Sampled, seed, captureLogits: true);
        for (int i = 0; i < _prompts.Length; i++)
        {
            // Replay the documented stream over the logits the runtime sampled from, one token at a time.
            var sequence = result.Sequences[i];
            ulong[] state = [Sampler.RngInit(seed, (ulong)i)];
            var token = new int[1];
            for (int k = 0; k < sequence.Generated.Length; k++)
            {
                Sampler.Sample(sequence.Logits![k], 1, Vocab, Sampled, state, token);
                Assert.That(sequence.Generated[k], Is.EqualTo(token[0]), $"sequence {i}, token {k}");
            }
        }
    }

    [Test]
    public void TokensDoNotDependOnOtherPrompts()
    {
        var withFirst = Sample([_prompts[0], _prompts[1]], seed: 5);
        var withThird = Sample([_prompts[2], _prompts[1]], seed: 5);
        Assert.That(withThird[1], Is.EqualTo(withFirst[1]), "prompt in row 1 with different batch mates");
    }

    [Test]
    public void SampledLogitsAreTheReferenceLogits()
    {
        var reference = _checkpoint.Reference();
        var result = _generator.Generate(_prompts, NewTokens, Sampled, seed: 3, captureLogits: true);
        for (int i = 0; i < _prompts.Length; i++)
        {
            var sequence = result.Sequences[i];
            var all = reference.Logits([.. _prompts[i], .. sequence.Generated]);
            for (int k = 0; k < sequence.Generated.Length; k++)
            {
                LogitAssert.Close(sequence.Logits![k], all[_prompts[i].Length - 1 + k], LogitAssert.ReferenceTolerance,
                    $"sequence {i}, token {k}");
            }
        }
    }

    [Test]
    public void GeneratorIsReusableAcrossDifferentRequests()
    {
        int[][] small = [_prompts[0]];
        int[][] larger = [.. _prompts, Run.Tokens(20, Vocab, 504), Run.Tokens(1, Vocab, 505)];
        var reference = _checkpoint.Reference();

        var first = _generator.Generate(small, 4, Generators.Greedy, seed: 0, captureLogits: true);
        // More sequences and longer ones than before: the runtime has to grow what it holds.
        var grown = _generator.Generate(larger, NewTokens, Generators.Greedy, seed: 0, captureLogits: false);
        var again = _generator.Generate(small, 4, Generators.Greedy, seed: 0, captureLogits: true);

        for (int i = 0; i < larger.Length; i++)
        {
            GenerationAssert.Matches(grown.Sequences[i].Generated, null, GreedyReference.Generate(reference, larger[i], NewTokens), $"larger batch, prompt {i}");
        }

        Assert.That(again.Sequences[0].Generated, Is.EqualTo(first.Sequences[0].Generated));
        for (int k = 0; k < first.Sequences[0].Generated.Length; k++)
        {
            LogitAssert.Close(again.Sequences[0].Logits![k], first.Sequences[0].Logits![k], LogitAssert.ReorderTolerance, $"repeat, token {k}");
        }
    }
}
