using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>The WAA hand-off: a sequence's KV exported from one cache continues identically in another.</summary>
[TestFixture]
public sealed class KvHandOffTests
{
    private TinyOptCheckpoint _checkpoint = null!;
    private OptReference _reference = null!;

    private int Vocab => _checkpoint.Spec.VocabSize;

    [OneTimeSetUp]
    public void CreateCheckpoint()
    {
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { PreLayerNorm = false, WordEmbedProjDim = 16 }, seed: 33);
        _reference = _checkpoint.Reference();
    }

    [OneTimeTearDown]
    public void DeleteCheckpoint() => _checkpoint.Dispose();

    [TestCase(false, TestName = "ImportIntoAnotherCacheOfTheSameModel")]
    [TestCase(true, TestName = "ImportIntoACacheOfAnotherModelInstance")]
    public void ImportedSequenceContinuesIdentically(bool otherInstance)
    {
        var sequence = Run.Tokens(10, Vocab, 90);
        using var source = LoadedModel.FromCheckpoint(_checkpoint.Directory);
        using var target = otherInstance ? LoadedModel.FromCheckpoint(_checkpoint.Directory) : null;
        var targetModel = target?.Model ?? source.Model;

        using var sourceCache = source.NewCache(maxSlots: 2, maxSeqLen: 32);
        using var targetCache = new KvCache(targetModel, 3, 32);
        // Occupy a slot in each so the sequence lives at different indices on the two sides.
        sourceCache.AllocSlot();
        int from = sourceCache.AllocSlot();
        int to = targetCache.AllocSlot();

        Run.Prefill(source.Model, sourceCache, from, sequence[..5]);
        Run.Decode(source.Model, sourceCache, [from], [sequence[5]]);

        ulong size = sourceCache.ExportSize(from);
        var bytes = sourceCache.Export(from);
        Assert.That((ulong)bytes.Length, Is.EqualTo(size));
        targetCache.Import(to, bytes);
        Assert.That(targetCache.SeqLen(to), Is.EqualTo(6));

        for (int t = 6; t < sequence.Length; t++)
        {
            var original = Run.Decode(source.Model, sourceCache, [from], [sequence[t]]);
            var moved = Run.Decode(targetModel, targetCache, [to], [sequence[t]]);
            LogitAssert.Identical(moved, original, $"continuation at length {t + 1}");
            LogitAssert.Close(moved, _reference.LastLogits(sequence[..(t + 1)]), LogitAssert.ReferenceTolerance, $"reference at length {t + 1}");
        }
    }

    [Test]
    public void ImportReplacesWhatTheSlotHeld()
    {
        var first = Run.Tokens(7, Vocab, 91);
        var second = Run.Tokens(3, Vocab, 92);
        using var loaded = LoadedModel.FromCheckpoint(_checkpoint.Directory);
        using var cache = loaded.NewCache(maxSlots: 2, maxSeqLen: 32);
        int a = cache.AllocSlot();
        int b = cache.AllocSlot();
        Run.Prefill(loaded.Model, cache, a, first);
        Run.Prefill(loaded.Model, cache, b, second);

        cache.Import(b, cache.Export(a));
        Assert.That(cache.SeqLen(b), Is.EqualTo(first.Length));
        var logits = Run.Decode(loaded.Model, cache, [b], [11]);
        LogitAssert.Close(logits, _reference.LastLogits([.. first, 11]), LogitAssert.ReferenceTolerance, "after overwrite");
    }
}
