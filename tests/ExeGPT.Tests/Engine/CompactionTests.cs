using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>Compaction after early termination moves survivors down without changing what they compute.</summary>
[TestFixture]
public sealed class CompactionTests
{
    [Test]
    public void SurvivorsDecodeIdenticallyAtTheirNewSlots()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 35);
        var reference = checkpoint.Reference();
        int vocab = checkpoint.Spec.VocabSize;
        using var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory);
        using var cache = loaded.NewCache(maxSlots: 5, maxSeqLen: 32);
        using var untouched = loaded.NewCache(maxSlots: 5, maxSeqLen: 32);

        var sequences = Enumerable.Range(0, 4).Select(i => Run.Tokens(12, vocab, 100 + i)).ToArray();
        int[] prefix = [3, 6, 2, 5];
        int[] slots = [.. sequences.Select(_ => cache.AllocSlot())];
        foreach (var _ in sequences)
        {
            untouched.AllocSlot();
        }

        var prompts = sequences.Select((s, i) => s[..prefix[i]]).ToArray();
        Run.Prefill(loaded.Model, cache, slots, prompts);
        Run.Prefill(loaded.Model, untouched, slots, prompts);

        // Sequences 0 and 2 finish early.
        cache.FreeSlot(slots[0]);
        cache.FreeSlot(slots[2]);
        var newSlotOf = new int[5];
        int live = cache.Compact(newSlotOf);
        Assert.That(live, Is.EqualTo(2));
        Assert.That(newSlotOf, Is.EqualTo(new[] { -1, 0, -1, 1, -1 }));
        Assert.That(cache.SeqLen(0), Is.EqualTo(prefix[1]));
        Assert.That(cache.SeqLen(1), Is.EqualTo(prefix[3]));

        int[] survivors = [1, 3];
        for (int step = 0; step < 4; step++)
        {
            int[] tokens = [.. survivors.Select(s => sequences[s][prefix[s] + step])];
            var compacted = Run.Decode(loaded.Model, cache, [0, 1], tokens);
            var uncompacted = Run.Decode(loaded.Model, untouched, [slots[1], slots[3]], tokens);
            for (int i = 0; i < survivors.Length; i++)
            {
                int s = survivors[i];
                var row = Run.Row(compacted, i, vocab);
                LogitAssert.Close(row, Run.Row(uncompacted, i, vocab), LogitAssert.ReorderTolerance, $"sequence {s} step {step} vs uncompacted cache");
                LogitAssert.Close(row, reference.LastLogits(sequences[s][..(prefix[s] + step + 1)]), LogitAssert.ReferenceTolerance, $"sequence {s} step {step} vs reference");
            }
        }

        // The freed tail is reusable: the next slot handed out is the first one past the survivors.
        Assert.That(cache.AllocSlot(), Is.EqualTo(2));
    }

    [Test]
    public void CompactingADenseCacheChangesNothing()
    {
        using var loaded = LoadedModel.FromPreset("tiny", seed: 3);
        using var cache = loaded.NewCache(maxSlots: 3, maxSeqLen: 16);
        int a = cache.AllocSlot();
        int b = cache.AllocSlot();
        Run.Prefill(loaded.Model, cache, [a, b], [[1, 2, 3], [4, 5]]);

        var newSlotOf = new int[3];
        Assert.That(cache.Compact(newSlotOf), Is.EqualTo(2));
        Assert.That(newSlotOf, Is.EqualTo(new[] { 0, 1, -1 }));
        Assert.That(cache.SeqLen(0), Is.EqualTo(3));
        Assert.That(cache.SeqLen(1), Is.EqualTo(2));
    }
}
