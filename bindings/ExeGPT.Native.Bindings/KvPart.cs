namespace ExeGPT.Native;

/// <summary>
/// A layer range x a head range of a KV cache in absolute model indices: what one hand-off blob holds, so an
/// encoder shard and decoder shards that cut the model differently can exchange the rows they share.
/// </summary>
/// <param name="LayerBegin">First model layer.</param>
/// <param name="LayerEnd">One past the last model layer.</param>
/// <param name="HeadBegin">First attention head (absolute, not TP-local).</param>
/// <param name="HeadEnd">One past the last attention head.</param>
public readonly record struct KvPart(int LayerBegin, int LayerEnd, int HeadBegin, int HeadEnd)
{
    /// <summary>No layer or no head: nothing to hand off.</summary>
    public bool IsEmpty => LayerEnd <= LayerBegin || HeadEnd <= HeadBegin;

    /// <summary>The rows both parts hold; <see cref="IsEmpty"/> when they share none.</summary>
    public KvPart Intersect(KvPart other)
    {
        var overlap = new KvPart(
            Math.Max(LayerBegin, other.LayerBegin),
            Math.Min(LayerEnd, other.LayerEnd),
            Math.Max(HeadBegin, other.HeadBegin),
            Math.Min(HeadEnd, other.HeadEnd));
        return overlap.IsEmpty ? default : overlap;
    }

    /// <summary>Whether every row of <paramref name="other"/> lies in this part.</summary>
    public bool Contains(KvPart other) =>
        !other.IsEmpty && other.LayerBegin >= LayerBegin && other.LayerEnd <= LayerEnd
        && other.HeadBegin >= HeadBegin && other.HeadEnd <= HeadEnd;
}
