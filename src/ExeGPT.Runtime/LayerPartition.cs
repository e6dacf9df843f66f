namespace ExeGPT.Runtime;

/// <summary>A contiguous layer range [Begin, End) of one pipeline stage.</summary>
/// <param name="Begin">First layer of the stage.</param>
/// <param name="End">One past the stage's last layer.</param>
public readonly record struct LayerRange(int Begin, int End)
{
    /// <summary>Number of layers in the range.</summary>
    public int Count => End - Begin;
}

/// <summary>Splits a model's layers over pipeline stages.</summary>
public static class LayerPartition
{
    /// <summary>
    /// Even split; the first <c>layers % stages</c> stages take one extra layer, so earlier stages
    /// (which also hold the embeddings) never get fewer layers than later ones.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">stages is below 1 or above the layer count.</exception>
    public static LayerRange[] Split(int layers, int stages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stages, 1);
        if (stages > layers)
            throw new ArgumentOutOfRangeException(nameof(stages), stages,
                $"Cannot split {layers} layer(s) over {stages} pipeline stages: every stage needs at least one layer.");

        var ranges = new LayerRange[stages];
        int baseCount = layers / stages, remainder = layers % stages, begin = 0;
        for (int s = 0; s < stages; s++)
        {
            int count = baseCount + (s < remainder ? 1 : 0);
            ranges[s] = new LayerRange(begin, begin + count);
            begin += count;
        }
        return ranges;
    }
}
