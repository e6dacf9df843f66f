namespace ExeGPT.Tests.Reference;

/// <summary>A dense row-major tensor of float values with its shape (HF layout: Linear weights are [out, in]).</summary>
public sealed record Tensor(int[] Shape, float[] Data)
{
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
