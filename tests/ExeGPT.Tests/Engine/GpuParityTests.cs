using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Gpu;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>
/// The CUDA backend (BF16 and F16 storage, F32 accumulation) against the independent reference and against the CPU
/// backend: logits within the storage dtype's tolerance (<see cref="Cuda.Tolerance"/>), greedy choices equal unless
/// within that tolerance of a tie, sampling on the device equal to the host sampler, and the KV hand-off's export and
/// import round trip. Skipped, with the engine's reason, where there is no CUDA backend.
/// </summary>
[TestFixture]
[Category("Gpu")]
public sealed class GpuParityTests
{
    private const int MaxSeqLen = 48;

    [OneTimeSetUp]
    public void RequireCuda() => Cuda.RequireBackend();

    [TestCaseSource(typeof(Cuda), nameof(Cuda.ShapesAndDtypes))]
    public void PrefillAndDecodeMatchTheReference(OptSpec spec, exg_dtype dtype) =>
        MatchesTheReference(spec, CheckpointDtype.F32, dtype);

    /// <summary>F16 and BF16 checkpoints take another load path (half tensors converted to the storage dtype) than F32
    /// ones; their reference holds the same rounded weights.</summary>
    [TestCase(CheckpointDtype.F16, exg_dtype.EXG_DTYPE_F16)]
    [TestCase(CheckpointDtype.F16, exg_dtype.EXG_DTYPE_BF16)]
    [TestCase(CheckpointDtype.BF16, exg_dtype.EXG_DTYPE_BF16)]
    [TestCase(CheckpointDtype.BF16, exg_dtype.EXG_DTYPE_F16)]
    public void HalfPrecisionCheckpointsMatchTheReference(CheckpointDtype checkpointDtype, exg_dtype dtype) =>
        MatchesTheReference(Cuda.Shapes().First().Spec, checkpointDtype, dtype);

    private static void MatchesTheReference(OptSpec spec, CheckpointDtype checkpointDtype, exg_dtype dtype)
    {
        using var checkpoint = TinyOptCheckpoint.Create(spec, checkpointDtype, seed: 14);
        OptReference reference = checkpoint.Reference();
        using Backend backend = Cuda.Create(dtype);
        Assert.That(backend.Dtype, Is.EqualTo(dtype));
        using var model = Model.Create(backend, new ModelOptions { Config = ModelConfigs.FromCheckpoint(checkpoint.Directory), CheckpointDir = checkpoint.Directory });
        using var cache = new KvCache(model, 3, MaxSeqLen);

        // Ragged: a one-token prompt, and prompts longer than a tile of the prefill kernel would make of a short one.
        int[][] sequences = [Run.Tokens(24, spec.VocabSize, 140), Run.Tokens(24, spec.VocabSize, 141), Run.Tokens(24, spec.VocabSize, 142)];
        int[] prompt = [17, 1, 9];
        int[] slots = [cache.AllocSlot(), cache.AllocSlot(), cache.AllocSlot()];
        float[] logits = Run.Prefill(model, cache, slots, [.. sequences.Select((s, i) => s[..prompt[i]])]);
        AssertRows(logits, reference, sequences, prompt, dtype, "prefill");
        for (int step = 0; step < 5; step++)
        {
            logits = Run.Decode(model, cache, slots, [.. sequences.Select((s, i) => s[prompt[i] + step])]);
            AssertRows(logits, reference, sequences, [.. prompt.Select(p => p + step + 1)], dtype, $"decode step {step}");
        }
    }

    [TestCaseSource(typeof(Cuda), nameof(Cuda.ShapesAndDtypes))]
    public void GreedyChoicesMatchTheCpuBackend(OptSpec spec, exg_dtype dtype)
    {
        // Teacher forcing on the CPU's tokens: both backends see the same inputs at every step, so a near-tie broken
        // the other way cannot make the comparison drift.
        using var checkpoint = TinyOptCheckpoint.Create(spec, seed: 15);
        var options = new ModelOptions { Config = ModelConfigs.FromCheckpoint(checkpoint.Directory), CheckpointDir = checkpoint.Directory };
        using var cpu = LoadedModel.FromCheckpoint(checkpoint.Directory);
        using Backend backend = Cuda.Create(dtype);
        using var gpu = Model.Create(backend, options);
        using var cpuCache = cpu.NewCache(maxSlots: 3, maxSeqLen: MaxSeqLen);
        using var gpuCache = new KvCache(gpu, 3, MaxSeqLen);
        int[] slots = [cpuCache.AllocSlot(), cpuCache.AllocSlot(), cpuCache.AllocSlot()];
        Assert.That(new[] { gpuCache.AllocSlot(), gpuCache.AllocSlot(), gpuCache.AllocSlot() }, Is.EqualTo(slots));
        int[][] prompts = [Run.Tokens(12, spec.VocabSize, 150), Run.Tokens(3, spec.VocabSize, 151), Run.Tokens(7, spec.VocabSize, 152)];

        float[] cpuLogits = Run.Prefill(cpu.Model, cpuCache, slots, prompts);
        float[] gpuLogits = Run.Prefill(gpu, gpuCache, slots, prompts);
        double tolerance = Cuda.Tolerance(dtype);
        for (int step = 0; step < 16; step++)
        {
            int[] next = new int[slots.Length];
            for (int i = 0; i < slots.Length; i++)
            {
                float[] expected = Run.Row(cpuLogits, i, spec.VocabSize), actual = Run.Row(gpuLogits, i, spec.VocabSize);
                string what = $"{DtypeNames.Name(dtype)}, sequence {i}, step {step}";
                LogitAssert.Close(actual, expected, tolerance, what);
                next[i] = GreedyAssert.Argmax(expected);
                GreedyAssert.IsNearBest([.. expected.Select(v => (double)v)], GreedyAssert.Argmax(actual), tolerance, what);
            }
            cpuLogits = Run.Decode(cpu.Model, cpuCache, slots, next);
            gpuLogits = Run.Decode(gpu, gpuCache, slots, next);
        }
    }

    [TestCaseSource(typeof(Cuda), nameof(Cuda.DtypeCases))]
    public void GreedySamplingOnTheDeviceEqualsTheHostSampler(exg_dtype dtype)
    {
        using var checkpoint = Cuda.Checkpoint(seed: 16);
        int vocab = checkpoint.Spec.VocabSize;
        using Backend backend = Cuda.Create(dtype);
        using var model = Model.Create(backend, new ModelOptions { Config = ModelConfigs.FromCheckpoint(checkpoint.Directory), CheckpointDir = checkpoint.Directory });
        using var cache = new KvCache(model, 4, MaxSeqLen);
        int[] slots = [cache.AllocSlot(), cache.AllocSlot(), cache.AllocSlot(), cache.AllocSlot()];
        var greedy = new SamplingOptions(Greedy: true);
        float[] logits = Run.Prefill(model, cache, slots, [.. Enumerable.Range(0, 4).Select(i => Run.Tokens(3 + 5 * i, vocab, 160 + i))]);
        for (int step = 0; step < 8; step++)
        {
            ulong[] deviceStates = [.. slots.Select(s => Sampler.RngInit(3, (ulong)s))], hostStates = [.. deviceStates];
            int[] onDevice = new int[slots.Length], onHost = new int[slots.Length];
            model.Sample(greedy, deviceStates, onDevice);
            Sampler.Sample(logits, slots.Length, vocab, greedy, hostStates, onHost);
            Assert.That(onDevice, Is.EqualTo(onHost), $"step {step}: the device's argmax over the logits the host received");
            Assert.That(deviceStates, Is.EqualTo(hostStates), $"step {step}: the streams");
            logits = Run.Decode(model, cache, slots, onDevice);
        }
    }

    [TestCaseSource(typeof(Cuda), nameof(Cuda.DtypeCases))]
    public void KvExportAndImportRoundTrip(exg_dtype dtype)
    {
        using var checkpoint = Cuda.Checkpoint(seed: 17);
        int vocab = checkpoint.Spec.VocabSize;
        using Backend backend = Cuda.Create(dtype);
        using var model = Model.Create(backend, new ModelOptions { Config = ModelConfigs.FromCheckpoint(checkpoint.Directory), CheckpointDir = checkpoint.Directory });
        using var source = new KvCache(model, 2, MaxSeqLen);
        using var target = new KvCache(model, 2, MaxSeqLen);
        int from = source.AllocSlot();
        target.AllocSlot(); // a different slot number on the receiving side
        int to = target.AllocSlot();
        Run.Prefill(model, source, from, Run.Tokens(13, vocab, 170));

        // Through a pinned host buffer of the backend, as the WAA hand-off does it.
        using var staging = HostBuffer.Allocate(backend, source.ExportSize(from));
        Span<byte> blob = staging.AsSpan<byte>();
        int written = checked((int)source.ExportTo(from, blob));
        target.Import(to, blob[..written]);
        Assert.That(target.SeqLen(to), Is.EqualTo(13));
        var again = new byte[target.ExportSize(to)];
        target.ExportTo(to, again);
        Assert.That(again, Is.EqualTo(blob[..written].ToArray()), "the imported rows export to the same bytes");

        // The next step attends over the imported rows exactly as over the originals.
        int token = Run.Tokens(1, vocab, 171)[0];
        float[] original = Run.Decode(model, source, [from], [token]);
        float[] imported = Run.Decode(model, target, [to], [token]);
        LogitAssert.Close(imported, original, LogitAssert.ReorderTolerance, $"{DtypeNames.Name(dtype)}: decode after import");
    }

    private static void AssertRows(float[] logits, OptReference reference, int[][] sequences, int[] lengths, exg_dtype dtype, string what)
    {
        int vocab = reference.Spec.VocabSize;
        for (int i = 0; i < sequences.Length; i++)
            LogitAssert.Close(Run.Row(logits, i, vocab), reference.LastLogits(sequences[i][..lengths[i]]), Cuda.Tolerance(dtype),
                $"cuda {DtypeNames.Name(dtype)}, {what}, sequence {i} at length {lengths[i]}");
    }
}
