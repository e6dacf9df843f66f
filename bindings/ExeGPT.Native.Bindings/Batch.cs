namespace ExeGPT.Native;

/// <summary>
/// A ragged batch: sequence i appends <c>SeqLens[i]</c> tokens to KV slot <c>Slots[i]</c>; its rows are consecutive
/// in <see cref="TokenIds"/> / <see cref="HiddenIn"/> / <see cref="HiddenOut"/>. Which spans are used depends on the
/// shard: the first stage reads <see cref="TokenIds"/>, later ones <see cref="HiddenIn"/>; the last stage writes
/// <see cref="LogitsOut"/> (each sequence's last token) when it is given, earlier ones <see cref="HiddenOut"/>. The unused ones stay
/// empty. <see cref="Model"/> checks every length before calling the library.
/// </summary>
public ref struct Batch
{
    public ReadOnlySpan<int> Slots;

    /// <summary>New tokens per sequence; empty means one each (decode).</summary>
    public ReadOnlySpan<int> SeqLens;

    /// <summary>[sum(SeqLens)] on the first stage.</summary>
    public ReadOnlySpan<int> TokenIds;

    /// <summary>[sum(SeqLens) x hidden_size] on later stages.</summary>
    public ReadOnlySpan<float> HiddenIn;

    /// <summary>[sum(SeqLens) x hidden_size] on all but the last stage.</summary>
    public Span<float> HiddenOut;

    /// <summary>[Slots.Length x vocab_size] on the last stage; empty there keeps the logits on the backend for
    /// <see cref="Model.Sample"/> (they then never cross to the host).</summary>
    public Span<float> LogitsOut;
}
