using ExeGPT.Runtime;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runtime;

/// <summary>
/// A sequence that emits the EOS id stops right there (EOS included) while the others go on; since
/// finished slots are freed and the cache compacted mid-run, the survivors must be unaffected.
/// </summary>
[TestFixture]
public sealed class HostGeneratorStoppingTests
{
    private const int NewTokens = 10;

    [TestCase(1, 1)]
    [TestCase(2, 2)]
    public void OutputIsCutAfterTheFirstEos(int tp, int stages)
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 31);
        var reference = checkpoint.Reference();
        int vocab = checkpoint.Spec.VocabSize;
        int[][] prompts = [.. Enumerable.Range(0, 5).Select(i => Run.Tokens(2 + 3 * i, vocab, 400 + i))];

        using var generator = Generators.ForCheckpoint(checkpoint.Directory, tp, stages);
        var plain = generator.Generate(prompts, NewTokens, Generators.Greedy, seed: 0, captureLogits: false);
        int eos = ChooseEos(plain.Sequences.Select(s => s.Generated).ToArray());

        var stopped = generator.Generate(prompts, NewTokens, Generators.Greedy, seed: 0, captureLogits: true, eosTokenId: eos);
        for (int i = 0; i < prompts.Length; i++)
        {
            var full = plain.Sequences[i].Generated;
            int at = Array.IndexOf(full, eos);
            var actual = stopped.Sequences[i];
            Assert.That(actual.Generated, Is.EqualTo(at < 0 ? full : full[..(at + 1)]), $"prompt {i}: no-EOS output truncated after EOS {eos}");
            Assert.That(actual.Reason, Is.EqualTo(at < 0 ? FinishReason.Length : FinishReason.EndOfSequence), $"prompt {i}");
            GenerationAssert.Matches(actual.Generated, actual.Logits,
                GreedyReference.Generate(reference, prompts[i], NewTokens, eos), $"prompt {i} with EOS {eos}");
        }
    }

    [Test]
    public void EosAsTheFirstTokenGivesOneToken()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 32);
        int vocab = checkpoint.Spec.VocabSize;
        int[][] prompts = [Run.Tokens(4, vocab, 410), Run.Tokens(6, vocab, 411)];

        using var generator = Generators.ForCheckpoint(checkpoint.Directory);
        var plain = generator.Generate(prompts, 3, Generators.Greedy, seed: 0, captureLogits: false);
        int eos = plain.Sequences[1].Generated[0];

        var stopped = generator.Generate(prompts, 3, Generators.Greedy, seed: 0, captureLogits: false, eosTokenId: eos);
        Assert.That(stopped.Sequences[1].Generated, Is.EqualTo(new[] { eos }));
        Assert.That(stopped.Sequences[1].Reason, Is.EqualTo(FinishReason.EndOfSequence));
    }

    /// <summary>
    /// An id that ends some sequence early and leaves at least one running to the end, so the run
    /// exercises both a mid-batch retirement and decoding after it.
    /// </summary>
    private static int ChooseEos(int[][] outputs)
    {
        foreach (int candidate in outputs.SelectMany(o => o[..(o.Length / 2)]))
        {
            int cut = outputs.Count(o => Array.IndexOf(o, candidate) is >= 0 and < NewTokens - 1);
            if (cut >= 1 && outputs.Any(o => !o.Contains(candidate)))
            {
                return candidate;
            }
        }

        Assert.Fail("no token ends one sequence early while sparing another; pick other prompts");
        return -1;
    }
}
