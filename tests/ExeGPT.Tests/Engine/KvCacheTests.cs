using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>Incremental decoding through the KV cache must equal recomputing the whole sequence.</summary>
[TestFixture]
public sealed class KvCacheTests
{
    private TinyOptCheckpoint _checkpoint = null!;
    private OptReference _reference = null!;
    private LoadedModel _loaded = null!;

    private int Vocab => _checkpoint.Spec.VocabSize;

    [OneTimeSetUp]
    public void CreateModel()
    {
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { NumLayers = 3, Activation = "gelu" }, seed: 31);
        _reference = _checkpoint.Reference();
        _loaded = LoadedModel.FromCheckpoint(_checkpoint.Directory);
    }

    [OneTimeTearDown]
    public void DisposeModel()
    {
        _loaded.Dispose();
        _checkpoint.Dispose();
    }

    [Test]
    public void DecodeEqualsFullRecomputation()
    {
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 32);
        var sequence = Run.Tokens(12, Vocab, 40);
        int incremental = cache.AllocSlot();
        int scratch = cache.AllocSlot();

        var logits = Run.Prefill(_loaded.Model, cache, incremental, sequence[..3]);
        for (int length = 3; ; length++)
        {
            // Recompute the whole prefix from scratch in another slot and compare with the cached path.
            cache.FreeSlot(scratch);
            Assert.That(cache.AllocSlot(), Is.EqualTo(scratch));
            var full = Run.Prefill(_loaded.Model, cache, scratch, sequence[..length]);
            LogitAssert.Close(logits, full, LogitAssert.ReorderTolerance, $"decode vs prefill at length {length}");
            LogitAssert.Close(logits, _reference.LastLogits(sequence[..length]), LogitAssert.ReferenceTolerance, $"decode vs reference at length {length}");
            Assert.That(cache.SeqLen(incremental), Is.EqualTo(length));

            if (length == sequence.Length)
            {
                break;
            }

            logits = Run.Decode(_loaded.Model, cache, [incremental], [sequence[length]]);
        }
    }

    [Test]
    public void ChunkedPrefillAppendsToTheCache()
    {
        // A prefill into a slot that already holds tokens continues the sequence (positions and attention).
        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 32);
        var sequence = Run.Tokens(11, Vocab, 41);
        int slot = cache.AllocSlot();
        Run.Prefill(_loaded.Model, cache, slot, sequence[..5]);
        var logits = Run.Prefill(_loaded.Model, cache, slot, sequence[5..]);
        Assert.That(cache.SeqLen(slot), Is.EqualTo(11));
        LogitAssert.Close(logits, _reference.LastLogits(sequence), LogitAssert.ReferenceTolerance, "second chunk");
    }

    [Test]
    public void RaggedBatchEqualsOneByOne()
    {
        int[][] prompts = [Run.Tokens(5, Vocab, 50), Run.Tokens(1, Vocab, 51), Run.Tokens(9, Vocab, 52), Run.Tokens(3, Vocab, 53)];
        int[][] continuations = [.. Enumerable.Range(0, 3).Select(step => Run.Tokens(prompts.Length, Vocab, 60 + step))];

        using var batched = _loaded.NewCache(maxSlots: 4, maxSeqLen: 32);
        using var single = _loaded.NewCache(maxSlots: 4, maxSeqLen: 32);
        int[] slots = [.. prompts.Select(_ => batched.AllocSlot())];
        foreach (var _ in prompts)
        {
            single.AllocSlot();
        }

        var together = Run.Prefill(_loaded.Model, batched, slots, prompts);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = Run.Prefill(_loaded.Model, single, slots[i], prompts[i]);
            LogitAssert.Close(Run.Row(together, i, Vocab), alone, LogitAssert.ReorderTolerance, $"prefill of prompt {i}");
        }

        foreach (var (tokens, step) in continuations.Select((t, s) => (t, s)))
        {
            together = Run.Decode(_loaded.Model, batched, slots, tokens);
            for (int i = 0; i < prompts.Length; i++)
            {
                var alone = Run.Decode(_loaded.Model, single, [slots[i]], [tokens[i]]);
                LogitAssert.Close(Run.Row(together, i, Vocab), alone, LogitAssert.ReorderTolerance, $"decode step {step} of sequence {i}");
            }
        }
    }

    [Test]
    public void BatchOrderDoesNotMatter()
    {
        // Slots listed out of order in a batch: each row belongs to its own slot, not to its position.
        int[][] prompts = [Run.Tokens(4, Vocab, 70), Run.Tokens(6, Vocab, 71)];
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 32);
        int first = cache.AllocSlot();
        int second = cache.AllocSlot();
        var logits = Run.Prefill(_loaded.Model, cache, [second, first], prompts);
        Assert.That(cache.SeqLen(second), Is.EqualTo(4));
        Assert.That(cache.SeqLen(first), Is.EqualTo(6));

        var next = Run.Decode(_loaded.Model, cache, [first, second], [3, 9]);
        LogitAssert.Close(Run.Row(logits, 0, Vocab), _reference.LastLogits(prompts[0]), LogitAssert.ReferenceTolerance, "row 0");
        LogitAssert.Close(Run.Row(next, 0, Vocab), _reference.LastLogits([.. prompts[1], 3]), LogitAssert.ReferenceTolerance, "decode of first slot");
        LogitAssert.Close(Run.Row(next, 1, Vocab), _reference.LastLogits([.. prompts[0], 9]), LogitAssert.ReferenceTolerance, "decode of second slot");
    }

    [Test]
    public void SlotsAreHandedOutLowestFirstUntilFull()
    {
        using var cache = _loaded.NewCache(maxSlots: 3, maxSeqLen: 16);
        Assert.That(new[] { cache.AllocSlot(), cache.AllocSlot(), cache.AllocSlot() }, Is.EqualTo(new[] { 0, 1, 2 }));
        ErrorAssert.Throws(() => cache.AllocSlot(), exg_status.EXG_ERR_CAPACITY);

        cache.FreeSlot(1);
        Assert.That(cache.AllocSlot(), Is.EqualTo(1));
    }

    [Test]
    public void FreedSlotForgetsItsSequence()
    {
        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 32);
        int slot = cache.AllocSlot();
        Run.Prefill(_loaded.Model, cache, slot, Run.Tokens(9, Vocab, 80));
        Assert.That(cache.SeqLen(slot), Is.EqualTo(9));
        cache.FreeSlot(slot);

        Assert.That(cache.AllocSlot(), Is.EqualTo(slot));
        Assert.That(cache.SeqLen(slot), Is.Zero);
        var prompt = Run.Tokens(4, Vocab, 81);
        var logits = Run.Prefill(_loaded.Model, cache, slot, prompt);
        LogitAssert.Close(logits, _reference.LastLogits(prompt), LogitAssert.ReferenceTolerance, "reused slot");
    }
}
