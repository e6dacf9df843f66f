using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>
/// The CUDA backend against the same reference, where one exists. Tolerance 1e-3 (same criterion as
/// <see cref="LogitAssert"/>): GPU GEMMs may round through TF32 or reduce in another order.
/// </summary>
[TestFixture]
[Category("Gpu")]
public sealed class GpuParityTests
{
    private const double GpuTolerance = 1e-3;

    [OneTimeSetUp]
    public void RequireCuda()
    {
        if (!Backend.IsAvailable(exg_backend_kind.EXG_BACKEND_CUDA))
        {
            Assert.Ignore("no CUDA backend library or device on this machine");
        }
    }

    [TestCaseSource(typeof(ParityVariants), nameof(ParityVariants.All))]
    public void PrefillAndDecodeMatchReference(OptSpec spec, CheckpointDtype dtype)
    {
        using var checkpoint = TinyOptCheckpoint.Create(spec, dtype, seed: 14);
        var reference = checkpoint.Reference();
        using var backend = Backend.Create(exg_backend_kind.EXG_BACKEND_CUDA);
        using var model = Model.Create(backend, new ModelOptions { Config = ModelConfigs.FromCheckpoint(checkpoint.Directory), CheckpointDir = checkpoint.Directory });
        using var cache = new KvCache(model, 2, 32);

        int[][] sequences = [Run.Tokens(9, spec.VocabSize, 140), Run.Tokens(9, spec.VocabSize, 141)];
        int[] slots = [cache.AllocSlot(), cache.AllocSlot()];
        var logits = Run.Prefill(model, cache, slots, [sequences[0][..6], sequences[1][..2]]);
        AssertRows(logits, reference, sequences, [6, 2], spec.VocabSize);
        for (int step = 0; step < 3; step++)
        {
            logits = Run.Decode(model, cache, slots, [sequences[0][6 + step], sequences[1][2 + step]]);
            AssertRows(logits, reference, sequences, [7 + step, 3 + step], spec.VocabSize);
        }
    }

    private static void AssertRows(float[] logits, OptReference reference, int[][] sequences, int[] lengths, int vocab)
    {
        for (int i = 0; i < sequences.Length; i++)
        {
            LogitAssert.Close(Run.Row(logits, i, vocab), reference.LastLogits(sequences[i][..lengths[i]]), GpuTolerance,
                $"cuda, sequence {i} at length {lengths[i]}");
        }
    }
}
