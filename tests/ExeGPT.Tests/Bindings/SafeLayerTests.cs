using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Bindings;

/// <summary>The safe layer's own guarantees: span checks before native calls, lifetimes, and disposal.</summary>
public sealed class SafeLayerTests
{
    private LoadedModel _loaded = null!;

    [OneTimeSetUp]
    public void CreateModel() => _loaded = LoadedModel.FromPreset("tiny", seed: 7);

    [OneTimeTearDown]
    public void DisposeModel() => _loaded.Dispose();

    private Model Model => _loaded.Model;
    private int Vocab => _loaded.Config.vocab_size;

    [Test]
    public void Prefill_rejects_mismatched_spans_naming_them_before_touching_the_cache()
    {
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 32);
        var slot = cache.AllocSlot();
        int[] slots = [slot];
        Assert.Multiple(() =>
        {
            ExpectBadBatch(cache, "Batch.SeqLens", new Batch { Slots = slots, SeqLens = new[] { 2, 2 }, TokenIds = new int[2], LogitsOut = new float[Vocab] });
            ExpectBadBatch(cache, "Batch.TokenIds", new Batch { Slots = slots, SeqLens = new[] { 3 }, TokenIds = new int[2], LogitsOut = new float[Vocab] });
            ExpectBadBatch(cache, "Batch.LogitsOut", new Batch { Slots = slots, SeqLens = new[] { 2 }, TokenIds = new int[2], LogitsOut = new float[Vocab - 1] });
            ExpectBadBatch(cache, "Batch.HiddenIn", new Batch { Slots = slots, SeqLens = new[] { 2 }, TokenIds = new int[2], HiddenIn = new float[2 * _loaded.Config.hidden_size], LogitsOut = new float[Vocab] });
            ExpectBadBatch(cache, "Batch.SeqLens[0]", new Batch { Slots = slots, SeqLens = new[] { 0 }, LogitsOut = new float[Vocab] });
            ExpectBadBatch(cache, "Batch.Slots", new Batch { LogitsOut = new float[Vocab] });
        });
        Assert.That(cache.SeqLen(slot), Is.Zero, "a rejected batch must not reach the library");
    }

    private void ExpectBadBatch(KvCache cache, string span, in Batch batch)
    {
        // A ref struct cannot be captured by a lambda, hence no Assert.Throws.
        try
        {
            Model.Prefill(cache, batch);
            Assert.Fail($"a batch with a bad {span} was accepted");
        }
        catch (ArgumentException e)
        {
            Assert.That(e.Message, Does.Contain(span));
        }
    }

    [Test]
    public void Decode_accepts_only_one_token_per_sequence()
    {
        using var cache = _loaded.NewCache(maxSlots: 1, maxSeqLen: 32);
        var slot = cache.AllocSlot();
        var ex = Assert.Throws<ArgumentException>(() =>
            Model.Decode(cache, new Batch { Slots = new[] { slot }, SeqLens = new[] { 2 }, TokenIds = new int[2], LogitsOut = new float[Vocab] }));
        Assert.That(ex?.Message, Does.Contain("Batch.SeqLens[0]"));
    }

    [Test]
    public void Prefill_without_lengths_appends_one_token_per_sequence()
    {
        using var cache = _loaded.NewCache(maxSlots: 2, maxSeqLen: 32);
        int[] slots = [cache.AllocSlot(), cache.AllocSlot()];
        var logits = new float[2 * Vocab];
        Model.Prefill(cache, new Batch { Slots = slots, TokenIds = new[] { 5, 9 }, LogitsOut = logits });
        Assert.That(slots.Select(cache.SeqLen), Is.EqualTo(new[] { 1, 1 }));
        Assert.That(logits, Has.Some.Not.EqualTo(0f));
    }

    [Test]
    public void A_cache_of_another_model_is_rejected()
    {
        using var other = LoadedModel.FromPreset("tiny", seed: 8);
        using var foreignCache = other.NewCache(maxSlots: 1, maxSeqLen: 8);
        var ex = Assert.Throws<ArgumentException>(() =>
            Model.Prefill(foreignCache, new Batch { Slots = new[] { 0 }, TokenIds = new[] { 1 }, LogitsOut = new float[Vocab] }));
        Assert.That(ex?.ParamName, Is.EqualTo("cache"));
    }

    [Test]
    public void Cache_outlives_a_disposed_model_and_backend()
    {
        var backend = LoadedModel.CpuBackend();
        var model = Model.Create(backend, new ModelOptions { Config = ModelConfigs.Preset("tiny"), Seed = 3 });
        var cache = new KvCache(model, maxSlots: 1, maxSeqLen: 16);
        var slot = cache.AllocSlot();
        model.Dispose();
        backend.Dispose();
        Assert.Multiple(() =>
        {
            // The cache still references the native model, which is freed only after the cache.
            Assert.That(cache.SeqLen(slot), Is.Zero);
            Assert.Throws<ObjectDisposedException>(() =>
                model.Prefill(cache, new Batch { Slots = new[] { slot }, TokenIds = new[] { 1 }, LogitsOut = new float[Vocab] }));
        });
        cache.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cache.AllocSlot());
    }

    [Test]
    public void Strings_with_nul_are_rejected_before_the_native_call()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelConfigs.Preset("tiny\0ignored"));
        Assert.That(ex?.ParamName, Is.EqualTo("name"));
    }

    [Test]
    public void Preset_names_are_listed_and_each_one_is_valid()
    {
        Assert.That(ModelConfigs.PresetNames, Does.Contain("tiny").And.Contain("opt-125m"));
        foreach (var name in ModelConfigs.PresetNames)
            Assert.DoesNotThrow(() => ModelConfigs.Validate(ModelConfigs.Preset(name)), name);
    }

    [Test]
    public void Host_buffer_is_a_typed_span_over_native_memory_until_disposed()
    {
        var buffer = HostBuffer.Allocate(_loaded.Backend, 1024);
        var floats = buffer.AsSpan<float>();
        Assert.That(floats.Length, Is.EqualTo(256));
        floats[255] = 42f;
        Assert.That(buffer.AsSpan<byte>().Length, Is.EqualTo(1024));
        Assert.That(buffer.AsSpan<float>()[255], Is.EqualTo(42f));
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => buffer.AsSpan<int>());
    }

    [Test]
    public void Host_group_all_reduce_sums_across_ranks_and_abort_fails_the_peers()
    {
        var comms = Comm.CreateHostGroup(2, timeoutMs: 20_000);
        try
        {
            Assert.That(comms.Select(c => (c.Rank, c.Size)), Is.EqualTo(new[] { (0, 2), (1, 2) }));
            var data = new[] { new[] { 1f, 2f }, new[] { 10f, 20f } };
            Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, r => comms[r].AllReduceSum(data[r]));
            Assert.That(data, Has.All.EqualTo(new[] { 11f, 22f }));

            comms[1].Abort();
            var ex = Assert.Throws<ExgException>(() => comms[0].AllReduceSum(new float[2]));
            Assert.That(ex?.Status, Is.EqualTo(exg_status.EXG_ERR_COMM));
        }
        finally
        {
            foreach (var comm in comms)
                comm.Dispose();
        }
    }

    [Test]
    public void Sample_checks_span_lengths()
    {
        var options = new SamplingOptions(Greedy: true);
        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<ArgumentException>(() => Sampler.Sample(new float[7], 2, 4, options, new ulong[2], new int[2]))?.ParamName,
                Is.EqualTo("logits"));
            Assert.That(Assert.Throws<ArgumentException>(() => Sampler.Sample(new float[8], 2, 4, options, new ulong[1], new int[2]))?.ParamName,
                Is.EqualTo("rngStates"));
            Assert.That(Assert.Throws<ArgumentException>(() => Sampler.Sample(new float[8], 2, 4, options, new ulong[2], new int[3]))?.ParamName,
                Is.EqualTo("tokensOut"));
        });
        var tokens = new int[2];
        Sampler.Sample([0f, 3f, 1f, 2f, 5f, 0f, 0f, 1f], 2, 4, options, new ulong[2], tokens);
        Assert.That(tokens, Is.EqualTo(new[] { 1, 0 }));
    }
}
