using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>
/// Impossible sizes and out-of-range arguments: each is refused with a status and a message naming the
/// offending field, and the library keeps working afterwards.
/// </summary>
[TestFixture]
public sealed class BadArgumentTests
{
    private TinyOptCheckpoint _checkpoint = null!;
    private LoadedModel _loaded = null!;

    [OneTimeSetUp]
    public void CreateModel()
    {
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { MaxPositions = 20 }, seed: 51);
        _loaded = LoadedModel.FromCheckpoint(_checkpoint.Directory);
    }

    [OneTimeTearDown]
    public void DisposeModel()
    {
        _loaded.Dispose();
        _checkpoint.Dispose();
    }

    [TearDown]
    public void LibraryStillWorks()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
        {
            EngineHealth.AssertTinyGenerationWorks();
        }
    }

    private exg_model_config ValidConfig => ModelConfigs.FromCheckpoint(_checkpoint.Directory);

    [Test]
    public void UnknownPresetIsRejected() =>
        ErrorAssert.Throws(() => ModelConfigs.Preset("opt-7b-typo"), exg_status.EXG_ERR_INVALID_ARGUMENT, "opt-7b-typo");

    [Test]
    public void ZeroHeadsIsRejected()
    {
        var config = ValidConfig;
        config.num_heads = 0;
        ErrorAssert.Throws(() => ModelConfigs.Validate(config), exg_status.EXG_ERR_INVALID_ARGUMENT, "num_heads");
        using var backend = LoadedModel.CpuBackend();
        ErrorAssert.Throws(() => Model.Create(backend, new ModelOptions { Config = config }).Dispose(),
            exg_status.EXG_ERR_INVALID_ARGUMENT, "num_heads");
    }

    [TestCase("vocab_size", -1)]
    [TestCase("hidden_size", 0)]
    [TestCase("num_layers", 0)]
    [TestCase("ffn_dim", -8)]
    [TestCase("max_positions", 0)]
    public void NonPositiveSizeIsRejected(string field, int value)
    {
        var config = ValidConfig;
        switch (field)
        {
            case "vocab_size": config.vocab_size = value; break;
            case "hidden_size": config.hidden_size = value; break;
            case "num_layers": config.num_layers = value; break;
            case "ffn_dim": config.ffn_dim = value; break;
            case "max_positions": config.max_positions = value; break;
        }

        ErrorAssert.Throws(() => ModelConfigs.Validate(config), exg_status.EXG_ERR_INVALID_ARGUMENT, field);
    }

    [Test]
    public void HeadsNotDividingHiddenIsRejected()
    {
        var config = ValidConfig;
        config.num_heads = 5; // hidden 32
        ErrorAssert.Throws(() => ModelConfigs.Validate(config), exg_status.EXG_ERR_INVALID_ARGUMENT, "num_heads", "hidden_size");
    }

    [Test]
    public void NegativeMaxSlotsIsRejected() =>
        ErrorAssert.Throws(() => new KvCache(_loaded.Model, -1, 8).Dispose(), exg_status.EXG_ERR_INVALID_ARGUMENT, "max_slots");

    [Test]
    public void ZeroMaxSeqLenIsRejected() =>
        ErrorAssert.Throws(() => new KvCache(_loaded.Model, 2, 0).Dispose(), exg_status.EXG_ERR_INVALID_ARGUMENT, "max_seq_len");

    [Test]
    public void CacheLongerThanMaxPositionsIsRejected() =>
        ErrorAssert.ThrowsOneOf(() => new KvCache(_loaded.Model, 1, 21).Dispose(),
            [exg_status.EXG_ERR_INVALID_ARGUMENT, exg_status.EXG_ERR_CAPACITY], "max_seq_len", "max_positions");

    [Test]
    public void PromptLongerThanMaxPositionsIsRejected()
    {
        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 20);
        int slot = cache.AllocSlot();
        ErrorAssert.Throws(() => Run.Prefill(_loaded.Model, cache, slot, Run.Tokens(21, 97, 1)),
            exg_status.EXG_ERR_CAPACITY, "max_positions", "max_seq_len", "capacity", "21");
        Assert.That(cache.SeqLen(slot), Is.Zero, "a refused prefill must not leave tokens behind");
    }

    [Test]
    public void DecodingPastTheCacheIsRejected()
    {
        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 6);
        int slot = cache.AllocSlot();
        Run.Prefill(_loaded.Model, cache, slot, Run.Tokens(6, 97, 2));
        ErrorAssert.Throws(() => Run.Decode(_loaded.Model, cache, [slot], [1]), exg_status.EXG_ERR_CAPACITY);
        Assert.That(cache.SeqLen(slot), Is.EqualTo(6));
    }

    [Test]
    public void ZeroLengthSequenceIsRejected()
    {
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 8);
        int a = cache.AllocSlot();
        int b = cache.AllocSlot();
        var ex = Assert.Throws<ArgumentException>(() => Run.Prefill(_loaded.Model, cache, [a, b], [[1, 2], []]))!;
        Assert.That(ex.Message, Does.Contain("SeqLens"), "the safe layer names the field");

        var logits = new float[2 * _loaded.Config.vocab_size];
        ErrorAssert.Throws(() => UncheckedNative.Prefill(_loaded.Model, cache, [a, b], [2, 0], [1, 2], logits),
            exg_status.EXG_ERR_INVALID_ARGUMENT, "seq_len", "length");
        Assert.That(cache.SeqLen(a), Is.Zero, "a refused batch must not advance any of its sequences");
    }

    [TestCase(4)]
    [TestCase(-1)]
    public void SlotOutOfRangeIsRejected(int slot)
    {
        using var cache = _loaded.NewCache(maxSlots: 4, maxSeqLen: 8);
        cache.AllocSlot();
        ErrorAssert.Throws(() => Run.Decode(_loaded.Model, cache, [slot], [1]), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
        ErrorAssert.Throws(() => Run.Prefill(_loaded.Model, cache, slot, [1, 2]), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
        ErrorAssert.Throws(() => cache.FreeSlot(slot), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
        ErrorAssert.Throws(() => cache.SeqLen(slot), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
        ErrorAssert.Throws(() => cache.ExportSize(slot), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
    }

    [Test]
    public void UnallocatedSlotIsRejected()
    {
        using var cache = _loaded.NewCache(maxSlots: 4, maxSeqLen: 8);
        cache.AllocSlot();
        ErrorAssert.Throws(() => Run.Prefill(_loaded.Model, cache, 2, [1, 2]), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
        ErrorAssert.Throws(() => cache.FreeSlot(2), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
    }

    [Test]
    public void SameSlotTwiceInOneBatchIsRejected()
    {
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 8);
        int slot = cache.AllocSlot();
        ErrorAssert.Throws(() => Run.Prefill(_loaded.Model, cache, [slot, slot], [[1], [2]]), exg_status.EXG_ERR_INVALID_ARGUMENT, "slot");
    }

    [Test]
    public void TokenOutsideTheVocabularyIsRejected()
    {
        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 8);
        int slot = cache.AllocSlot();
        ErrorAssert.Throws(() => Run.Prefill(_loaded.Model, cache, slot, [1, 97]), exg_status.EXG_ERR_INVALID_ARGUMENT, "token", "vocab");
    }

    [Test]
    public void TensorParallelSizeNotDividingHeadsIsRejected()
    {
        var comms = Comm.CreateHostGroup(3, timeoutMs: 5000);
        try
        {
            using var backend = LoadedModel.CpuBackend();
            var options = new ModelOptions { Config = ValidConfig, Seed = 1, TpRank = 0, TpSize = 3, Comm = comms[0] };
            ErrorAssert.Throws(() => Model.Create(backend, options).Dispose(), exg_status.EXG_ERR_INVALID_ARGUMENT, "tp_size", "num_heads", "heads");
        }
        finally
        {
            foreach (var comm in comms)
            {
                comm.Dispose();
            }
        }
    }

    [Test]
    public void TensorParallelWithoutCommIsRejected()
    {
        using var backend = LoadedModel.CpuBackend();
        var options = new ModelOptions { Config = ValidConfig, Seed = 1, TpRank = 0, TpSize = 2 };
        ErrorAssert.Throws(() => Model.Create(backend, options).Dispose(), exg_status.EXG_ERR_INVALID_ARGUMENT, "comm");
    }

    [Test]
    public void TensorParallelRankOutsideTheGroupIsRejected()
    {
        var comms = Comm.CreateHostGroup(2, timeoutMs: 5000);
        try
        {
            using var backend = LoadedModel.CpuBackend();
            var options = new ModelOptions { Config = ValidConfig, Seed = 1, TpRank = 2, TpSize = 2, Comm = comms[0] };
            ErrorAssert.Throws(() => Model.Create(backend, options).Dispose(), exg_status.EXG_ERR_INVALID_ARGUMENT, "tp_rank");
        }
        finally
        {
            comms[0].Dispose();
            comms[1].Dispose();
        }
    }

    [TestCase(1, 1)]
    [TestCase(0, 3)]
    [TestCase(2, 1)]
    public void EmptyOrOutOfRangeLayerRangeIsRejected(int begin, int end)
    {
        using var backend = LoadedModel.CpuBackend();
        var options = new ModelOptions { Config = ValidConfig, Seed = 1, LayerBegin = begin, LayerEnd = end };
        ErrorAssert.Throws(() => Model.Create(backend, options).Dispose(), exg_status.EXG_ERR_INVALID_ARGUMENT, "layer");
    }

    [Test]
    public void ImportFromAnotherModelShapeIsRejected()
    {
        using var other = LoadedModel.FromPreset("tiny", seed: 2);
        using var otherCache = other.NewCache(maxSlots: 1, maxSeqLen: 8);
        int from = otherCache.AllocSlot();
        Run.Prefill(other.Model, otherCache, from, [1, 2, 3]);
        var bytes = otherCache.Export(from);

        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 8);
        int to = cache.AllocSlot();
        Assume.That(bytes.Length, Is.Not.EqualTo((int)CacheExportSizeFor(cache, to)), "the tiny preset has this test model's KV shape");
        ErrorAssert.ThrowsOneOf(() => cache.Import(to, bytes), [exg_status.EXG_ERR_INVALID_ARGUMENT, exg_status.EXG_ERR_FORMAT]);
    }

    [Test]
    public void TruncatedImportIsRejected()
    {
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 8);
        int a = cache.AllocSlot();
        int b = cache.AllocSlot();
        Run.Prefill(_loaded.Model, cache, a, [1, 2, 3]);
        var bytes = cache.Export(a);
        ErrorAssert.ThrowsOneOf(() => cache.Import(b, bytes.AsSpan(0, bytes.Length - 3)),
            [exg_status.EXG_ERR_INVALID_ARGUMENT, exg_status.EXG_ERR_FORMAT]);
        Assert.That(cache.SeqLen(b), Is.Zero, "a refused import must leave the slot as it was");
    }

    /// <summary>Export size of a 3-token sequence in this cache, for comparison with a foreign export.</summary>
    private ulong CacheExportSizeFor(KvCache cache, int slot)
    {
        Run.Prefill(_loaded.Model, cache, slot, [1, 2, 3]);
        ulong size = cache.ExportSize(slot);
        cache.FreeSlot(slot);
        Assert.That(cache.AllocSlot(), Is.EqualTo(slot));
        return size;
    }
}
