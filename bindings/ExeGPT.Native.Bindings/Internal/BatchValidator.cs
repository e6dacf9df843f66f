using ExeGPT.Native.Interop;

namespace ExeGPT.Native.Internal;

/// <summary>
/// Checks a <see cref="Batch"/> against the shard before the native call: the library trusts the counts it is given,
/// so a short span would be read or written past its end instead of failing.
/// </summary>
internal static class BatchValidator
{
    public static void Validate(in Batch batch, in exg_model_info info, bool decode)
    {
        var numSeqs = batch.Slots.Length;
        if (numSeqs == 0)
            throw Bad("Batch.Slots is empty; a batch needs at least one sequence.");
        long tokens = numSeqs;
        if (!batch.SeqLens.IsEmpty)
        {
            if (batch.SeqLens.Length != numSeqs)
                throw Bad($"Batch.SeqLens has {batch.SeqLens.Length} entries but Batch.Slots has {numSeqs}; give one length per sequence (or none).");
            tokens = 0;
            for (var i = 0; i < numSeqs; i++)
            {
                var length = batch.SeqLens[i];
                if (length < 1 || (decode && length != 1))
                    throw Bad(decode
                        ? $"Batch.SeqLens[{i}] is {length}; decode appends exactly one token per sequence."
                        : $"Batch.SeqLens[{i}] is {length}; every sequence needs at least one token.");
                tokens += length;
            }
        }

        var hidden = (long)info.config.hidden_size;
        if (info.is_first_stage != 0)
        {
            Expect(batch.TokenIds.Length, tokens, "Batch.TokenIds", "sum(SeqLens)");
            ExpectEmpty(batch.HiddenIn.Length, "Batch.HiddenIn", "the first stage reads TokenIds");
        }
        else
        {
            Expect(batch.HiddenIn.Length, tokens * hidden, "Batch.HiddenIn", "sum(SeqLens) x hidden_size");
            ExpectEmpty(batch.TokenIds.Length, "Batch.TokenIds", "only the first stage reads token ids");
        }
        if (info.is_last_stage != 0)
        {
            // Empty: the logits stay on the backend for Model.Sample.
            if (!batch.LogitsOut.IsEmpty)
                Expect(batch.LogitsOut.Length, numSeqs * (long)info.config.vocab_size, "Batch.LogitsOut", "Slots.Length x vocab_size (or empty)");
            ExpectEmpty(batch.HiddenOut.Length, "Batch.HiddenOut", "the last stage writes LogitsOut");
        }
        else
        {
            Expect(batch.HiddenOut.Length, tokens * hidden, "Batch.HiddenOut", "sum(SeqLens) x hidden_size");
            ExpectEmpty(batch.LogitsOut.Length, "Batch.LogitsOut", "only the last stage writes logits");
        }
    }

    private static void Expect(int actual, long expected, string span, string formula)
    {
        if (actual != expected)
            throw Bad($"{span} has {actual} elements but this batch and shard need {expected} ({formula}).");
    }

    private static void ExpectEmpty(int actual, string span, string reason)
    {
        if (actual != 0)
            throw Bad($"{span} must be empty on this shard ({reason}) but has {actual} elements.");
    }

    private static ArgumentException Bad(string message) => new(message, "batch");
}
