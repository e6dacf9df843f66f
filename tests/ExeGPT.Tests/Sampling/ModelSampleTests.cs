using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Sampling;

/// <summary>
/// <see cref="Model.Sample"/>: the backend samples the logits its last step kept, with the rule and random streams of
/// <see cref="Sampler.Sample"/> (the host sampler on the same logits is the reference), also when the step left
/// <see cref="Batch.LogitsOut"/> empty so the logits never crossed to the host. On the CPU backend here; the CUDA
/// counterpart is in the Gpu tests.
/// </summary>
[TestFixture]
public sealed class ModelSampleTests
{
    private const ulong Seed = 99;

    private static IEnumerable<TestCaseData> Rules()
    {
        yield return new TestCaseData(new SamplingOptions(Greedy: true)).SetArgDisplayNames("greedy");
        yield return new TestCaseData(new SamplingOptions(Greedy: false)).SetArgDisplayNames("full softmax");
        yield return new TestCaseData(new SamplingOptions(Greedy: false, Temperature: 0.7f, TopK: 5)).SetArgDisplayNames("T 0.7, top-k 5");
        yield return new TestCaseData(new SamplingOptions(Greedy: false, Temperature: 1.3f, TopP: 0.8f)).SetArgDisplayNames("T 1.3, top-p 0.8");
    }

    [TestCaseSource(nameof(Rules))]
    public void Sampling_on_the_backend_equals_the_host_sampler_on_the_same_logits(SamplingOptions rule)
    {
        using var loaded = LoadedModel.FromPreset("tiny", seed: 5);
        int vocab = loaded.Config.vocab_size;
        using var cache = loaded.NewCache(maxSlots: 3, maxSeqLen: 32);
        int[] slots = [cache.AllocSlot(), cache.AllocSlot(), cache.AllocSlot()];
        var logits = Run.Prefill(loaded.Model, cache, slots, [Run.Tokens(5, vocab, 1), Run.Tokens(2, vocab, 2), Run.Tokens(7, vocab, 3)]);
        for (int draw = 0; draw < 4; draw++)
        {
            ulong[] onBackend = States(slots.Length, draw), onHost = States(slots.Length, draw);
            var fromBackend = new int[slots.Length];
            var fromHost = new int[slots.Length];
            loaded.Model.Sample(rule, onBackend, fromBackend);
            Sampler.Sample(logits, slots.Length, vocab, rule, onHost, fromHost);
            Assert.That(fromBackend, Is.EqualTo(fromHost), $"draw {draw}: tokens");
            Assert.That(onBackend, Is.EqualTo(onHost), $"draw {draw}: the streams advance alike");
        }
    }

    [TestCaseSource(nameof(Rules))]
    public void A_step_may_keep_its_logits_on_the_backend(SamplingOptions rule)
    {
        // Two shards of one seed: one hands its logits out (the host reference), the other keeps them.
        using var withLogits = LoadedModel.FromPreset("tiny", seed: 6);
        using var kept = LoadedModel.FromPreset("tiny", seed: 6);
        int vocab = withLogits.Config.vocab_size;
        using var cacheA = withLogits.NewCache(maxSlots: 2, maxSeqLen: 32);
        using var cacheB = kept.NewCache(maxSlots: 2, maxSeqLen: 32);
        int[] slots = [cacheA.AllocSlot(), cacheA.AllocSlot()];
        Assert.That(new[] { cacheB.AllocSlot(), cacheB.AllocSlot() }, Is.EqualTo(slots));
        int[][] prompts = [Run.Tokens(4, vocab, 11), Run.Tokens(6, vocab, 12)];
        ulong[] hostStates = States(2, 0), backendStates = States(2, 0);
        int[] next = new int[2], nextKept = new int[2];

        float[] logits = Run.Prefill(withLogits.Model, cacheA, slots, prompts);
        kept.Model.Prefill(cacheB, new Batch { Slots = slots, SeqLens = [4, 6], TokenIds = [.. prompts.SelectMany(p => p)] });
        for (int step = 0; step < 3; step++)
        {
            Sampler.Sample(logits, 2, vocab, rule, hostStates, next);
            kept.Model.Sample(rule, backendStates, nextKept);
            Assert.That(nextKept, Is.EqualTo(next), $"step {step}");
            logits = Run.Decode(withLogits.Model, cacheA, slots, next);
            kept.Model.Decode(cacheB, new Batch { Slots = slots, TokenIds = nextKept });
        }
    }

    [Test]
    public void Sampling_needs_a_successful_step_of_a_last_stage_and_one_entry_per_sequence()
    {
        using var loaded = LoadedModel.FromPreset("tiny", seed: 5);
        var greedy = new SamplingOptions(Greedy: true);
        Assert.That(() => loaded.Model.Sample(greedy, new ulong[1], new int[1]),
            Throws.InvalidOperationException.With.Message.Contain("No step"));

        using var cache = loaded.NewCache(maxSlots: 2, maxSeqLen: 16);
        int[] slots = [cache.AllocSlot(), cache.AllocSlot()];
        Run.Prefill(loaded.Model, cache, slots, [[1, 2], [3]]);
        Assert.Multiple(() =>
        {
            Assert.That(() => loaded.Model.Sample(greedy, new ulong[1], new int[2]), Throws.ArgumentException.With.Message.Contain("rngStates"));
            Assert.That(() => loaded.Model.Sample(greedy, new ulong[2], new int[3]), Throws.ArgumentException.With.Message.Contain("tokensOut"));
        });

        using var first = Model.Create(loaded.Backend, new ModelOptions { Config = loaded.Config, Seed = 5, LayerEnd = 1 });
        Assert.That(() => first.Sample(greedy, new ulong[1], new int[1]), Throws.InvalidOperationException.With.Message.Contain("last-stage"));
    }

    [Test]
    public void A_failed_step_leaves_nothing_to_sample()
    {
        using var loaded = LoadedModel.FromPreset("tiny", seed: 5);
        using var cache = loaded.NewCache(maxSlots: 1, maxSeqLen: 4);
        int slot = cache.AllocSlot();
        Run.Prefill(loaded.Model, cache, slot, [1, 2]);
        Assert.Throws<ExgException>(() => Run.Prefill(loaded.Model, cache, slot, [1, 2, 3]), "past max_seq_len");
        Assert.That(() => loaded.Model.Sample(new SamplingOptions(Greedy: true), new ulong[1], new int[1]),
            Throws.InvalidOperationException);
    }

    private static ulong[] States(int rows, int draw) =>
        [.. Enumerable.Range(0, rows).Select(i => Sampler.RngInit(Seed + (ulong)draw, (ulong)i))];
}
