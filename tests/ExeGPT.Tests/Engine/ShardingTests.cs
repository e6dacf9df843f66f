using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>
/// Tensor-parallel ranks (threads joined by a host comm group) and pipeline stages (hidden rows handed
/// from one shard to the next) must compute what one unsharded model computes.
/// </summary>
[TestFixture]
public sealed class ShardingTests
{
    private const int MaxSeqLen = 32;

    private TinyOptCheckpoint _checkpoint = null!;
    private OptReference _reference = null!;
    private int[][] _prompts = null!;
    private int[][] _decodeTokens = null!;
    private List<float[]> _unsharded = null!;

    private int Vocab => _checkpoint.Spec.VocabSize;

    [OneTimeSetUp]
    public void CreateCheckpointAndBaseline()
    {
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { NumLayers = 3, Activation = "gelu_new" }, seed: 37);
        _reference = _checkpoint.Reference();
        _prompts = [Run.Tokens(6, Vocab, 110), Run.Tokens(3, Vocab, 111)];
        _decodeTokens = [.. Enumerable.Range(0, 3).Select(step => Run.Tokens(2, Vocab, 120 + step))];

        using var loaded = LoadedModel.FromCheckpoint(_checkpoint.Directory);
        using var cache = StagedRun.CacheWithSlots(loaded.Model, _prompts.Length, MaxSeqLen);
        _unsharded = StagedRun.TeacherForced([new Stage(loaded.Model, cache)], _prompts, _decodeTokens);
    }

    [OneTimeTearDown]
    public void DeleteCheckpoint() => _checkpoint.Dispose();

    [Test]
    public void UnshardedBaselineMatchesReference() => AssertMatchesReference(_unsharded, "unsharded");

    [Test]
    public void TwoTensorParallelRanksMatchOneRank()
    {
        var comms = Comm.CreateHostGroup(2, timeoutMs: 20000);
        try
        {
            Assert.That(comms.Select(c => (c.Rank, c.Size)), Is.EqualTo(new[] { (0, 2), (1, 2) }));
            var perRank = RankRunner.Run(comms, rank =>
            {
                using var backend = LoadedModel.CpuBackend();
                using var model = Model.Create(backend, CheckpointOptions() with { TpRank = rank, TpSize = 2, Comm = comms[rank] });
                Assert.That(model.Info.local_heads, Is.EqualTo(_checkpoint.Spec.NumHeads / 2));
                Assert.That(model.Info.tp_rank, Is.EqualTo(rank));
                using var cache = StagedRun.CacheWithSlots(model, _prompts.Length, MaxSeqLen);
                return StagedRun.TeacherForced([new Stage(model, cache)], _prompts, _decodeTokens);
            });

            AssertSameAsUnsharded(perRank[0], "TP rank 0");
            AssertSameAsUnsharded(perRank[1], "TP rank 1");
            AssertMatchesReference(perRank[0], "TP rank 0");
        }
        finally
        {
            DisposeAll(comms);
        }
    }

    [Test]
    public void TwoPipelineStagesMatchOneStage()
    {
        using var backend = LoadedModel.CpuBackend();
        using var first = Model.Create(backend, CheckpointOptions() with { LayerBegin = 0, LayerEnd = 1 });
        using var second = Model.Create(backend, CheckpointOptions() with { LayerBegin = 1 });

        Assert.That((first.Info.is_first_stage, first.Info.is_last_stage, first.Info.layer_begin, first.Info.layer_end),
            Is.EqualTo(((byte)1, (byte)0, 0, 1)));
        Assert.That((second.Info.is_first_stage, second.Info.is_last_stage, second.Info.layer_begin, second.Info.layer_end),
            Is.EqualTo(((byte)0, (byte)1, 1, 3)));

        using var firstCache = StagedRun.CacheWithSlots(first, _prompts.Length, MaxSeqLen);
        using var secondCache = StagedRun.CacheWithSlots(second, _prompts.Length, MaxSeqLen);
        var staged = StagedRun.TeacherForced([new Stage(first, firstCache), new Stage(second, secondCache)], _prompts, _decodeTokens);

        AssertSameAsUnsharded(staged, "two stages");
        AssertMatchesReference(staged, "two stages");
    }

    [Test]
    public void TwoStagesOfTwoTensorParallelRanksMatchOneModel()
    {
        // Each stage has its own TP group; both ranks walk the stages in the same order, as a runner would.
        var stageComms = new[] { Comm.CreateHostGroup(2, timeoutMs: 20000), Comm.CreateHostGroup(2, timeoutMs: 20000) };
        try
        {
            var perRank = RankRunner.Run(stageComms, rank =>
            {
                using var backend = LoadedModel.CpuBackend();
                using var first = Model.Create(backend, CheckpointOptions() with { LayerEnd = 2, TpRank = rank, TpSize = 2, Comm = stageComms[0][rank] });
                using var second = Model.Create(backend, CheckpointOptions() with { LayerBegin = 2, TpRank = rank, TpSize = 2, Comm = stageComms[1][rank] });
                using var firstCache = StagedRun.CacheWithSlots(first, _prompts.Length, MaxSeqLen);
                using var secondCache = StagedRun.CacheWithSlots(second, _prompts.Length, MaxSeqLen);
                return StagedRun.TeacherForced([new Stage(first, firstCache), new Stage(second, secondCache)], _prompts, _decodeTokens);
            });

            AssertSameAsUnsharded(perRank[0], "stage x TP rank 0");
            AssertSameAsUnsharded(perRank[1], "stage x TP rank 1");
        }
        finally
        {
            DisposeAll(stageComms.SelectMany(g => g));
        }
    }

    [Test]
    public void SeededRandomInitIsTheSameModelForAnySharding()
    {
        // "same seed => same full model for any sharding": no checkpoint, only the seed ties the shards together.
        var config = ModelConfigs.Preset("tiny");
        Assume.That(config.num_heads % 2 == 0 && config.ffn_dim % 2 == 0 && config.num_layers >= 2, "the tiny preset cannot be split in two");
        var options = new ModelOptions { Config = config, Seed = 77 };
        int[][] prompts = [Run.Tokens(5, config.vocab_size, 130), Run.Tokens(2, config.vocab_size, 131)];
        int[][] decodeTokens = [Run.Tokens(2, config.vocab_size, 132), Run.Tokens(2, config.vocab_size, 133)];

        List<float[]> whole;
        using (var backend = LoadedModel.CpuBackend())
        using (var model = Model.Create(backend, options))
        using (var cache = StagedRun.CacheWithSlots(model, 2, 16))
        {
            whole = StagedRun.TeacherForced([new Stage(model, cache)], prompts, decodeTokens);
        }

        var comms = Comm.CreateHostGroup(2, timeoutMs: 20000);
        try
        {
            int split = config.num_layers / 2;
            var perRank = RankRunner.Run(comms, rank =>
            {
                // Rank-parallel second stage only; the first stage is unsharded, so both ranks run their own copy.
                using var backend = LoadedModel.CpuBackend();
                using var first = Model.Create(backend, options with { LayerEnd = split });
                using var second = Model.Create(backend, options with { LayerBegin = split, TpRank = rank, TpSize = 2, Comm = comms[rank] });
                using var firstCache = StagedRun.CacheWithSlots(first, 2, 16);
                using var secondCache = StagedRun.CacheWithSlots(second, 2, 16);
                return StagedRun.TeacherForced([new Stage(first, firstCache), new Stage(second, secondCache)], prompts, decodeTokens);
            });

            for (int step = 0; step < whole.Count; step++)
            {
                LogitAssert.Close(perRank[0][step], whole[step], LogitAssert.ReorderTolerance, $"seeded, step {step}");
            }
        }
        finally
        {
            DisposeAll(comms);
        }
    }

    private ModelOptions CheckpointOptions() =>
        new() { Config = ModelConfigs.FromCheckpoint(_checkpoint.Directory), CheckpointDir = _checkpoint.Directory };

    private void AssertSameAsUnsharded(List<float[]> steps, string what)
    {
        Assert.That(steps, Has.Count.EqualTo(_unsharded.Count));
        for (int step = 0; step < steps.Count; step++)
        {
            for (int i = 0; i < _prompts.Length; i++)
            {
                LogitAssert.Close(Run.Row(steps[step], i, Vocab), Run.Row(_unsharded[step], i, Vocab),
                    LogitAssert.ReorderTolerance, $"{what}, step {step}, sequence {i}");
            }
        }
    }

    private void AssertMatchesReference(List<float[]> steps, string what)
    {
        for (int i = 0; i < _prompts.Length; i++)
        {
            var sequence = _prompts[i].Concat(_decodeTokens.Select(t => t[i])).ToArray();
            var expected = _reference.Logits(sequence);
            for (int step = 0; step < steps.Count; step++)
            {
                int position = _prompts[i].Length - 1 + step;
                LogitAssert.Close(Run.Row(steps[step], i, Vocab), expected[position], LogitAssert.ReferenceTolerance,
                    $"{what}, sequence {i}, position {position}");
            }
        }
    }

    private static void DisposeAll(IEnumerable<Comm> comms)
    {
        foreach (var comm in comms)
        {
            comm.Dispose();
        }
    }
}
