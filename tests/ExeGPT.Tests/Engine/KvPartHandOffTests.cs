using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>
/// The WAA hand-off between shards that cut the model differently: an encoder prefills, the parts of its KV that
/// each decoder shard holds travel through one pinned <see cref="HostBuffer"/>, and the decoder shards continue the
/// sequences as the whole model does (same seed, so the same model under any sharding).
/// </summary>
[TestFixture]
public sealed class KvPartHandOffTests
{
    private const int MaxSeqLen = 24;
    private const int SeqCount = 3;

    // Three layers so a two-stage split is uneven; four heads so TP 2 gives each rank two.
    private static readonly exg_model_config Config = ModelConfigs.Preset("tiny") with { num_layers = 3 };
    private static readonly ModelOptions WholeModel = new() { Config = Config, Seed = 4242 };

    private int[][] _prompts = null!;
    private int[][] _decodeTokens = null!;
    private List<float[]> _expected = null!;

    private static int Vocab => Config.vocab_size;

    [OneTimeSetUp]
    public void DecodeWithTheWholeModel()
    {
        _prompts = [Run.Tokens(6, Vocab, 300), Run.Tokens(2, Vocab, 301), Run.Tokens(9, Vocab, 302)];
        _decodeTokens = [.. Enumerable.Range(0, 4).Select(step => Run.Tokens(SeqCount, Vocab, 310 + step))];
        using var backend = LoadedModel.CpuBackend();
        using var model = Model.Create(backend, WholeModel);
        using var cache = StagedRun.CacheWithSlots(model, SeqCount, MaxSeqLen);
        var steps = StagedRun.TeacherForced([new Stage(model, cache)], _prompts, _decodeTokens);
        _expected = steps[1..];
    }

    [Test]
    public void WholeEncoderToTwoPipelineStages()
    {
        using var backend = LoadedModel.CpuBackend();
        using var encoder = Model.Create(backend, WholeModel);
        using var encoderCache = EncoderCache(encoder);
        Prefill([new Stage(encoder, encoderCache)]);

        using var first = Model.Create(backend, WholeModel with { LayerEnd = 1 });
        using var second = Model.Create(backend, WholeModel with { LayerBegin = 1 });
        using var firstCache = StagedRun.CacheWithSlots(first, SeqCount, MaxSeqLen);
        using var secondCache = StagedRun.CacheWithSlots(second, SeqCount, MaxSeqLen);
        Assert.That(firstCache.Whole, Is.EqualTo(new KvPart(0, 1, 0, 4)));
        Assert.That(secondCache.Whole, Is.EqualTo(new KvPart(1, 3, 0, 4)));

        using var pinned = HostBuffer.Allocate(backend, BlobBytes([encoderCache], [firstCache, secondCache]));
        var blobs = new Blobs(pinned);
        blobs.Export(encoderCache, firstCache.Whole);
        blobs.Export(encoderCache, secondCache.Whole);
        blobs.ImportInto(firstCache);
        blobs.ImportInto(secondCache);

        AssertContinuesLikeTheWholeModel([new Stage(first, firstCache), new Stage(second, secondCache)], "two stages");
    }

    [Test]
    public void WholeEncoderToTwoTensorParallelRanks()
    {
        using var backend = LoadedModel.CpuBackend();
        using var encoder = Model.Create(backend, WholeModel);
        using var encoderCache = EncoderCache(encoder);
        Prefill([new Stage(encoder, encoderCache)]);

        var comms = Comm.CreateHostGroup(2, timeoutMs: 20000);
        try
        {
            // Rank r holds heads [2r, 2r + 2) of every layer; the encoder exports exactly those rows for it.
            var parts = new[] { new KvPart(0, 3, 0, 2), new KvPart(0, 3, 2, 4) };
            using var pinned = HostBuffer.Allocate(backend, parts.Aggregate(0UL, (sum, p) => sum + PartBytes(encoderCache, p)));
            var blobs = new Blobs(pinned);
            foreach (var part in parts)
            {
                blobs.Export(encoderCache, part);
            }

            RankRunner.Run(comms, rank =>
            {
                using var rankBackend = LoadedModel.CpuBackend();
                using var model = Model.Create(rankBackend, WholeModel with { TpRank = rank, TpSize = 2, Comm = comms[rank] });
                using var cache = StagedRun.CacheWithSlots(model, SeqCount, MaxSeqLen);
                Assert.That(cache.Whole, Is.EqualTo(parts[rank]));
                blobs.ImportInto(cache);
                AssertContinuesLikeTheWholeModel([new Stage(model, cache)], $"TP rank {rank}");
                return 0;
            });
        }
        finally
        {
            comms[0].Dispose();
            comms[1].Dispose();
        }
    }

    [Test]
    public void TwoEncoderStagesToTensorParallelRanksOfTwoStages()
    {
        // Partial TP: the encoder is two stages at TP 1, the decoder two other stages at TP 2, so every decoder
        // cache takes its rows from both encoder stages, or from one, depending on where the cuts fall.
        using var backend = LoadedModel.CpuBackend();
        using var encoderFirst = Model.Create(backend, WholeModel with { LayerEnd = 2 });
        using var encoderSecond = Model.Create(backend, WholeModel with { LayerBegin = 2 });
        using var encoderFirstCache = EncoderCache(encoderFirst);
        using var encoderSecondCache = EncoderCache(encoderSecond);
        KvCache[] encoderCaches = [encoderFirstCache, encoderSecondCache];
        Prefill([new Stage(encoderFirst, encoderFirstCache), new Stage(encoderSecond, encoderSecondCache)]);

        var stageComms = new[] { Comm.CreateHostGroup(2, timeoutMs: 20000), Comm.CreateHostGroup(2, timeoutMs: 20000) };
        try
        {
            // What each decoder cache (stage, rank) will hold: layers [0, 1) and [1, 3) x heads of the rank.
            KvPart DecoderPart(int stage, int rank) => new(stage == 0 ? 0 : 1, stage == 0 ? 1 : 3, 2 * rank, 2 * rank + 2);
            var plan = (from stage in new[] { 0, 1 }
                        from rank in new[] { 0, 1 }
                        from source in encoderCaches
                        let overlap = source.Whole.Intersect(DecoderPart(stage, rank))
                        where !overlap.IsEmpty
                        select (source, overlap)).ToArray();
            Assert.That(plan, Has.Length.EqualTo(6), "the second decoder stage straddles the encoder's cut");

            using var pinned = HostBuffer.Allocate(backend, plan.Aggregate(0UL, (sum, p) => sum + PartBytes(p.source, p.overlap)));
            var blobs = new Blobs(pinned);
            foreach (var (source, overlap) in plan)
            {
                blobs.Export(source, overlap);
            }

            RankRunner.Run(stageComms, rank =>
            {
                using var rankBackend = LoadedModel.CpuBackend();
                using var first = Model.Create(rankBackend, WholeModel with { LayerEnd = 1, TpRank = rank, TpSize = 2, Comm = stageComms[0][rank] });
                using var second = Model.Create(rankBackend, WholeModel with { LayerBegin = 1, TpRank = rank, TpSize = 2, Comm = stageComms[1][rank] });
                using var firstCache = StagedRun.CacheWithSlots(first, SeqCount, MaxSeqLen);
                using var secondCache = StagedRun.CacheWithSlots(second, SeqCount, MaxSeqLen);
                Assert.That(firstCache.Whole, Is.EqualTo(DecoderPart(0, rank)));
                Assert.That(secondCache.Whole, Is.EqualTo(DecoderPart(1, rank)));
                blobs.ImportInto(firstCache);
                blobs.ImportInto(secondCache);

                AssertContinuesLikeTheWholeModel([new Stage(first, firstCache), new Stage(second, secondCache)], $"stages x TP rank {rank}");
                return 0;
            });
        }
        finally
        {
            foreach (var comm in stageComms.SelectMany(g => g))
            {
                comm.Dispose();
            }
        }
    }

    [Test]
    [NonParallelizable]
    public void HandOffThroughAPinnedBufferAllocatesNothing()
    {
        // The runner hands KV off in its steady state: exporting into and importing from native memory must not
        // touch the managed heap.
        using var backend = LoadedModel.CpuBackend();
        using var encoder = Model.Create(backend, WholeModel);
        using var encoderCache = EncoderCache(encoder);
        Prefill([new Stage(encoder, encoderCache)]);
        using var stage = Model.Create(backend, WholeModel with { LayerBegin = 1 });
        using var stageCache = StagedRun.CacheWithSlots(stage, SeqCount, MaxSeqLen);
        var part = stageCache.Whole;
        using var pinned = HostBuffer.Allocate(backend, encoderCache.ExportSize(EncoderSlots[2]));

        long HandOff()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int sequence = 0; sequence < SeqCount; sequence++)
            {
                var buffer = pinned.AsSpan<byte>();
                var written = encoderCache.ExportPartTo(EncoderSlots[sequence], part, buffer);
                stageCache.Import(sequence, buffer[..(int)written]);
                written = encoderCache.ExportTo(EncoderSlots[sequence], buffer);
                encoderCache.Import(EncoderSlots[sequence], buffer[..(int)written]);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        HandOff();  // JIT
        Assert.That(HandOff(), Is.Zero);
        Assert.That(stageCache.SeqLen(2), Is.EqualTo(_prompts[2].Length));
    }

    /// <summary>The encoder's sequences live in slots 1..n (slot 0 taken), the decoders' in 0..n-1.</summary>
    private static readonly int[] EncoderSlots = [1, 2, 3];

    private static KvCache EncoderCache(Model model)
    {
        var cache = new KvCache(model, SeqCount + 1, MaxSeqLen);
        for (int i = 0; i <= SeqCount; i++)
        {
            cache.AllocSlot();
        }

        return cache;
    }

    private void Prefill(IReadOnlyList<Stage> encoder) =>
        StagedRun.Step(encoder, EncoderSlots, [.. _prompts.Select(p => p.Length)], [.. _prompts.SelectMany(p => p)]);

    private void AssertContinuesLikeTheWholeModel(IReadOnlyList<Stage> decoder, string what)
    {
        int[] slots = [.. Enumerable.Range(0, SeqCount)];
        foreach (var cache in decoder.Select(s => s.Cache))
        {
            Assert.That(slots.Select(cache.SeqLen), Is.EqualTo(_prompts.Select(p => p.Length)), $"{what}: imported lengths");
        }

        for (int step = 0; step < _decodeTokens.Length; step++)
        {
            var logits = StagedRun.Step(decoder, slots, null, _decodeTokens[step]);
            for (int i = 0; i < SeqCount; i++)
            {
                LogitAssert.Close(Run.Row(logits, i, Vocab), Run.Row(_expected[step], i, Vocab), LogitAssert.ReorderTolerance,
                    $"{what}, decode step {step}, sequence {i}");
            }
        }
    }

    private static ulong PartBytes(KvCache source, KvPart part) =>
        EncoderSlots.Aggregate(0UL, (sum, slot) => sum + source.ExportPartSize(slot, part));

    private static ulong BlobBytes(KvCache[] sources, KvCache[] targets) =>
        (from s in sources from t in targets let o = s.Whole.Intersect(t.Whole) where !o.IsEmpty select PartBytes(s, o))
        .Aggregate(0UL, (sum, b) => sum + b);

    /// <summary>Blobs laid back to back in one pinned buffer, each remembering its sequence and part.</summary>
    private sealed class Blobs(HostBuffer pinned)
    {
        private readonly List<(int Sequence, KvPart Part, int Offset, int Length)> _written = [];
        private int _used;

        /// <summary>Exports <paramref name="part"/> of every encoder sequence.</summary>
        public void Export(KvCache source, KvPart part)
        {
            for (int sequence = 0; sequence < SeqCount; sequence++)
            {
                int slot = EncoderSlots[sequence];
                var written = source.ExportPartTo(slot, part, pinned.AsSpan<byte>()[_used..]);
                Assert.That(written, Is.EqualTo(source.ExportPartSize(slot, part)));
                _written.Add((sequence, part, _used, (int)written));
                _used += (int)written;
            }
        }

        /// <summary>Imports every blob whose rows <paramref name="target"/> holds, sequence i into slot i.</summary>
        public void ImportInto(KvCache target)
        {
            var mine = _written.Where(b => target.Whole.Contains(b.Part)).ToArray();
            Assert.That(mine, Is.Not.Empty, $"no blob for a cache holding {target.Whole}");
            foreach (var (sequence, _, offset, length) in mine)
            {
                target.Import(sequence, pinned.AsSpan<byte>().Slice(offset, length));
            }
        }
    }
}
