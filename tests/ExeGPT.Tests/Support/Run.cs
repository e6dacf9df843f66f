namespace ExeGPT.Tests.Support;

/// <summary>Thin wrappers that build ragged batches for the single-stage (full) model case.</summary>
public static class Run
{
    /// <summary>Prefills each prompt into its slot in one ragged batch; returns [prompts x vocab] logits.</summary>
    public static float[] Prefill(Model model, KvCache cache, int[] slots, IReadOnlyList<int[]> prompts)
    {
        var lens = prompts.Select(p => p.Length).ToArray();
        var tokens = prompts.SelectMany(p => p).ToArray();
        var logits = new float[prompts.Count * model.Config.vocab_size];
        var batch = new Batch { Slots = slots, SeqLens = lens, TokenIds = tokens, LogitsOut = logits };
        model.Prefill(cache, in batch);
        return logits;
    }

    public static float[] Prefill(Model model, KvCache cache, int slot, int[] prompt) =>
        Prefill(model, cache, [slot], [prompt]);

    /// <summary>One decode step: tokens[i] is appended to slots[i]; returns [slots x vocab] logits.</summary>
    public static float[] Decode(Model model, KvCache cache, int[] slots, int[] tokens)
    {
        var logits = new float[slots.Length * model.Config.vocab_size];
        var batch = new Batch { Slots = slots, TokenIds = tokens, LogitsOut = logits };
        model.Decode(cache, in batch);
        return logits;
    }

    /// <summary>Row <paramref name="row"/> of a [rows x vocab] logits buffer.</summary>
    public static float[] Row(float[] logits, int row, int vocab) => logits.AsSpan(row * vocab, vocab).ToArray();

    /// <summary>Deterministic pseudo-random token ids (no sampling involved) for prompts and teacher forcing.</summary>
    public static int[] Tokens(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }
}
