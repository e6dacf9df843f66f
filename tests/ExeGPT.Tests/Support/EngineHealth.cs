using ExeGPT.Tests.Checkpoints;

namespace ExeGPT.Tests.Support;

/// <summary>
/// After a provoked failure the library must still work: a small prefill + greedy decode on a known
/// checkpoint has to match the reference, which a leaked lock, stale error state or corrupted global
/// would break.
/// </summary>
public static class EngineHealth
{
    public static void AssertTinyGenerationWorks()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 4242);
        var reference = checkpoint.Reference();
        using var loaded = LoadedModel.FromCheckpoint(checkpoint.Directory);
        using var cache = loaded.NewCache(maxSlots: 1, maxSeqLen: 16);
        int vocab = loaded.Config.vocab_size;

        var sequence = new List<int> { 5, 17, 3 };
        int slot = cache.AllocSlot();
        var logits = Run.Prefill(loaded.Model, cache, slot, [.. sequence]);
        for (int step = 0; step < 3; step++)
        {
            LogitAssert.Close(logits, reference.LastLogits(sequence), LogitAssert.ReferenceTolerance, $"health check step {step}");
            var next = new int[1];
            Sampler.Sample(logits, 1, vocab, new SamplingOptions(Greedy: true), new ulong[1], next);
            sequence.Add(next[0]);
            logits = Run.Decode(loaded.Model, cache, [slot], next);
        }

        LogitAssert.Close(logits, reference.LastLogits(sequence), LogitAssert.ReferenceTolerance, "health check final step");
    }
}
