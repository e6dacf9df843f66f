using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>
/// The engine's logits against the independent reference on the same checkpoint values, within
/// <see cref="LogitAssert.ReferenceTolerance"/> (max |diff| relative to the largest reference logit).
/// </summary>
[TestFixture]
public sealed class ReferenceParityTests
{
    [TestCaseSource(typeof(ParityVariants), nameof(ParityVariants.All))]
    public void RaggedPrefillMatchesReference(OptSpec spec, CheckpointDtype dtype)
    {
        using var checkpoint = TinyOptCheckpoint.Create(spec, dtype, seed: 11);
        var reference = checkpoint.Reference();
        using var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory);
        using var cache = loaded.NewCache(maxSlots: 3);

        int[][] prompts = [Run.Tokens(7, spec.VocabSize, 1), Run.Tokens(1, spec.VocabSize, 2), Run.Tokens(12, spec.VocabSize, 3)];
        int[] slots = [cache.AllocSlot(), cache.AllocSlot(), cache.AllocSlot()];
        var logits = Run.Prefill(loaded.Model, cache, slots, prompts);

        for (int i = 0; i < prompts.Length; i++)
        {
            LogitAssert.Close(Run.Row(logits, i, spec.VocabSize), reference.LastLogits(prompts[i]),
                LogitAssert.ReferenceTolerance, $"prompt {i} (length {prompts[i].Length})");
        }
    }

    [TestCaseSource(typeof(ParityVariants), nameof(ParityVariants.All))]
    public void DecodeStepsMatchReference(OptSpec spec, CheckpointDtype dtype)
    {
        using var checkpoint = TinyOptCheckpoint.Create(spec, dtype, seed: 12);
        var reference = checkpoint.Reference();
        using var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory);
        using var cache = loaded.NewCache(maxSlots: 2);

        // Two sequences decoded together, teacher-forced so the expected continuation is fixed.
        int[][] sequences = [Run.Tokens(10, spec.VocabSize, 21), Run.Tokens(10, spec.VocabSize, 22)];
        int[] prefixLengths = [4, 2];
        int[] slots = [cache.AllocSlot(), cache.AllocSlot()];
        var expected = new[] { reference.Logits(sequences[0]), reference.Logits(sequences[1]) };

        var logits = Run.Prefill(loaded.Model, cache, slots, [sequences[0][..4], sequences[1][..2]]);
        for (int step = 0; ; step++)
        {
            for (int i = 0; i < 2; i++)
            {
                int position = prefixLengths[i] + step - 1;
                LogitAssert.Close(Run.Row(logits, i, spec.VocabSize), expected[i][position],
                    LogitAssert.ReferenceTolerance, $"sequence {i} position {position}");
            }

            if (prefixLengths[0] + step == sequences[0].Length)
            {
                break;
            }

            logits = Run.Decode(loaded.Model, cache, slots, [sequences[0][prefixLengths[0] + step], sequences[1][prefixLengths[1] + step]]);
        }

        Assert.That(cache.SeqLen(slots[0]), Is.EqualTo(10));
        Assert.That(cache.SeqLen(slots[1]), Is.EqualTo(8));
    }

    [Test]
    public void PromptOfMaxPositionsMatchesReference()
    {
        var spec = new OptSpec { MaxPositions = 24 };
        using var checkpoint = TinyOptCheckpoint.Create(spec, seed: 13);
        using var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory);
        using var cache = loaded.NewCache(maxSlots: 1);

        // The last position uses the last row of the position table (row max_positions + 1).
        var prompt = Run.Tokens(spec.MaxPositions, spec.VocabSize, 5);
        var logits = Run.Prefill(loaded.Model, cache, cache.AllocSlot(), prompt);
        LogitAssert.Close(logits, checkpoint.Reference().LastLogits(prompt), LogitAssert.ReferenceTolerance, "full-length prompt");
    }
}
