using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>Per-part step timings (what the profiler reads): counts are exact, parts are measured only when
/// enabled, never negative, and never add up to more than the step. No speed is asserted.</summary>
[TestFixture]
public sealed class StepTimingTests
{
    private TinyOptCheckpoint _checkpoint = null!;
    private LoadedModel _loaded = null!;

    [OneTimeSetUp]
    public void CreateModel()
    {
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { NumLayers = 3, Activation = "relu" }, seed: 5);
        _loaded = LoadedModel.FromCheckpoint(_checkpoint.Directory);
    }

    [OneTimeTearDown]
    public void DisposeModel()
    {
        _loaded.Dispose();
        _checkpoint.Dispose();
    }

    [Test]
    public void PartsAreMeasuredOnlyWhenEnabled()
    {
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 32);
        int a = cache.AllocSlot(), b = cache.AllocSlot();
        int vocab = _checkpoint.Spec.VocabSize;

        _loaded.Model.EnableStepTiming(false);
        Run.Prefill(_loaded.Model, cache, a, Run.Tokens(7, vocab, 1));
        var off = _loaded.Model.LastStepTimings;
        Assert.That(off.layers, Is.EqualTo(3));
        Assert.That(off.tokens, Is.EqualTo(7));
        Assert.That(off.total_seconds, Is.GreaterThan(0));
        Assert.That(off.attention_seconds + off.layer_rest_seconds + off.all_reduce_seconds + off.outside_layers_seconds, Is.Zero);

        _loaded.Model.EnableStepTiming(true);
        Run.Prefill(_loaded.Model, cache, b, Run.Tokens(5, vocab, 2));
        var on = _loaded.Model.LastStepTimings;
        Assert.That(on.tokens, Is.EqualTo(5));
        Assert.That(on.attention_seconds, Is.GreaterThan(0));
        Assert.That(on.layer_rest_seconds, Is.GreaterThan(0));
        Assert.That(on.all_reduce_seconds, Is.Zero, "one rank: no all-reduce");
        Assert.That(on.outside_layers_seconds, Is.GreaterThanOrEqualTo(0));
        Assert.That(on.attention_seconds + on.layer_rest_seconds + on.all_reduce_seconds + on.outside_layers_seconds,
            Is.LessThanOrEqualTo(on.total_seconds * (1 + 1e-9)));

        Run.Decode(_loaded.Model, cache, [a, b], [3, 4]);
        var step = _loaded.Model.LastStepTimings;
        Assert.That(step.tokens, Is.EqualTo(2));
        Assert.That(step.attention_seconds, Is.GreaterThan(0));
        _loaded.Model.EnableStepTiming(false);
    }

    [Test]
    public void AFailedStepLeavesZeros()
    {
        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 4);
        int slot = cache.AllocSlot();
        Assert.Throws<ExeGPT.Native.ExgException>(() => Run.Prefill(_loaded.Model, cache, slot, Run.Tokens(9, _checkpoint.Spec.VocabSize, 3)));
        var failed = _loaded.Model.LastStepTimings;
        Assert.That(failed.tokens, Is.Zero);
        Assert.That(failed.total_seconds, Is.Zero);
    }
}
