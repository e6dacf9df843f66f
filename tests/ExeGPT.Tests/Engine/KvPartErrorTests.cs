using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>A KV part that a cache does not hold, or bytes that are not a whole blob, are refused with a message naming why.</summary>
[TestFixture]
public sealed class KvPartErrorTests
{
    private static readonly exg_model_config Config = ModelConfigs.Preset("tiny") with { num_layers = 3 };

    private Backend _backend = null!;
    private Model _whole = null!;
    private Model _stage = null!;
    private KvCache _wholeCache = null!;
    private KvCache _stageCache = null!;
    private int _from;
    private int _to;

    [SetUp]
    public void PrefillTheWholeModel()
    {
        _backend = LoadedModel.CpuBackend();
        _whole = Model.Create(_backend, new ModelOptions { Config = Config, Seed = 5 });
        _stage = Model.Create(_backend, new ModelOptions { Config = Config, Seed = 5, LayerBegin = 1 });
        _wholeCache = new KvCache(_whole, 2, 16);
        _stageCache = new KvCache(_stage, 2, 16);
        _from = _wholeCache.AllocSlot();
        _to = _stageCache.AllocSlot();
        Run.Prefill(_whole, _wholeCache, _from, [3, 1, 4, 1, 5]);
    }

    [TearDown]
    public void Release()
    {
        _stageCache.Dispose();
        _wholeCache.Dispose();
        _stage.Dispose();
        _whole.Dispose();
        _backend.Dispose();
    }

    [TestCase(0, 2, 0, 4, "layers")]
    [TestCase(1, 4, 0, 4, "layers")]
    [TestCase(1, 3, 2, 5, "heads")]
    [TestCase(1, 1, 0, 4, "non-empty")]
    [TestCase(1, 3, 2, 2, "non-empty")]
    public void ExportOfAPartTheCacheDoesNotHoldIsRefused(int layerBegin, int layerEnd, int headBegin, int headEnd, string named)
    {
        var part = new KvPart(layerBegin, layerEnd, headBegin, headEnd);
        ErrorAssert.Throws(() => _stageCache.ExportPartSize(_to, part), exg_status.EXG_ERR_INVALID_ARGUMENT, named);
        ErrorAssert.Throws(() => _stageCache.ExportPartTo(_to, part, new byte[1 << 16]), exg_status.EXG_ERR_INVALID_ARGUMENT, named);
    }

    [Test]
    public void ExportIntoTooSmallADestinationIsRefused()
    {
        var part = new KvPart(1, 2, 0, 4);
        var size = _wholeCache.ExportPartSize(_from, part);
        ErrorAssert.Throws(() => _wholeCache.ExportPartTo(_from, part, new byte[size - 1]), exg_status.EXG_ERR_CAPACITY, "needs");
        ErrorAssert.Throws(() => _wholeCache.ExportTo(_from, new byte[_wholeCache.ExportSize(_from) - 1]), exg_status.EXG_ERR_CAPACITY, "needs");
    }

    [TestCase(0, 2, 0, 4, "layers [0, 2)")]
    [TestCase(0, 3, 0, 4, "layers [0, 3)")]
    public void ImportOfLayersTheCacheDoesNotHoldIsRefused(int layerBegin, int layerEnd, int headBegin, int headEnd, string named) =>
        AssertRefused(Blob(new KvPart(layerBegin, layerEnd, headBegin, headEnd)), exg_status.EXG_ERR_FORMAT, named);

    [Test]
    public void ImportOfHeadsTheCacheDoesNotHoldIsRefused()
    {
        var comms = Comm.CreateHostGroup(2, timeoutMs: 5000);
        try
        {
            // A rank-1 stage holds heads [2, 4): rank 0's heads must not land there.
            using var rank = Model.Create(_backend, new ModelOptions { Config = Config, Seed = 5, LayerBegin = 1, TpRank = 1, TpSize = 2, Comm = comms[1] });
            using var cache = new KvCache(rank, 1, 16);
            int slot = cache.AllocSlot();
            Assert.That(cache.Whole, Is.EqualTo(new KvPart(1, 3, 2, 4)));
            ErrorAssert.Throws(() => cache.Import(slot, Blob(new KvPart(1, 3, 0, 2))), exg_status.EXG_ERR_FORMAT, "heads [0, 2)");
            ErrorAssert.Throws(() => cache.Import(slot, Blob(new KvPart(1, 3, 1, 3))), exg_status.EXG_ERR_FORMAT, "heads [1, 3)");
            Assert.That(cache.SeqLen(slot), Is.Zero);
        }
        finally
        {
            comms[0].Dispose();
            comms[1].Dispose();
        }
    }

    [Test]
    public void ImportOfAnotherHeadSizeIsRefused()
    {
        // Same layers and heads, half the hidden size: every row is half as long.
        using var narrow = Model.Create(_backend, new ModelOptions { Config = Config with { hidden_size = 32 }, Seed = 5 });
        using var narrowCache = new KvCache(narrow, 1, 16);
        int slot = narrowCache.AllocSlot();
        Run.Prefill(narrow, narrowCache, slot, [2, 7, 1]);
        AssertRefused(narrowCache.Export(slot), exg_status.EXG_ERR_FORMAT, "head_dim 8");
    }

    [Test]
    public void TruncatedPaddedOrForeignBytesAreRefused()
    {
        var blob = Blob(_stageCache.Whole);
        AssertRefused(blob[..^1], exg_status.EXG_ERR_FORMAT, "truncated");
        AssertRefused(blob[..16], exg_status.EXG_ERR_FORMAT, "header");
        AssertRefused([.. blob, 0], exg_status.EXG_ERR_FORMAT, "header implies");
        var foreign = (byte[])blob.Clone();
        foreign[0] ^= 0xFF;
        AssertRefused(foreign, exg_status.EXG_ERR_FORMAT, "magic");
    }

    [Test]
    public void PartsOfOneSlotMustAgreeOnLength()
    {
        _stageCache.Import(_to, Blob(new KvPart(1, 2, 0, 4)));
        Assert.That(_stageCache.SeqLen(_to), Is.EqualTo(5));
        Run.Decode(_whole, _wholeCache, [_from], [9]);
        ErrorAssert.Throws(() => _stageCache.Import(_to, Blob(new KvPart(2, 3, 0, 4))), exg_status.EXG_ERR_INVALID_ARGUMENT, "seq_len");
        Assert.That(_stageCache.SeqLen(_to), Is.EqualTo(5), "a refused part leaves the slot as it was");

        // A blob covering the whole cache replaces the slot whatever it held.
        _stageCache.Import(_to, Blob(_stageCache.Whole));
        Assert.That(_stageCache.SeqLen(_to), Is.EqualTo(6));
    }

    private byte[] Blob(KvPart part)
    {
        var bytes = new byte[_wholeCache.ExportPartSize(_from, part)];
        Assert.That(_wholeCache.ExportPartTo(_from, part, bytes), Is.EqualTo((ulong)bytes.Length));
        return bytes;
    }

    private void AssertRefused(byte[] blob, exg_status status, string named)
    {
        ErrorAssert.Throws(() => _stageCache.Import(_to, blob), status, named);
        Assert.That(_stageCache.SeqLen(_to), Is.Zero, "a refused import leaves the slot as it was");
    }
}
