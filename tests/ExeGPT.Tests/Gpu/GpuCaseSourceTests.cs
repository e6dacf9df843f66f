using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Gpu;

/// <summary>The Gpu fixtures' case sources and shapes, checked where the fixtures themselves are skipped: a source
/// that threw would otherwise hide behind the skip until a GPU machine ran it.</summary>
[TestFixture]
public sealed class GpuCaseSourceTests
{
    [Test]
    public void Every_shape_comes_in_every_dtype()
    {
        TestCaseData[] cases = [.. Cuda.ShapesAndDtypes()];
        Assert.That(cases, Has.Length.EqualTo(Cuda.Shapes().Count() * Cuda.Dtypes.Length));
        Assert.That(Cuda.Shapes().Select(s => s.Name), Is.Unique);
        Assert.That(cases.Select(c => (c.Arguments[0], c.Arguments[1])), Is.Unique);
        Assert.That(Cuda.DtypeCases().Select(c => c.Arguments[0]), Is.EqualTo(Cuda.Dtypes.Cast<object>()));
    }

    [Test]
    public void Every_shape_has_a_head_dim_the_cuda_kernels_take()
    {
        foreach (OptSpec spec in Cuda.Shapes().Select(s => s.Spec).Append(Cuda.RuntimeShape))
        {
            Assert.That(spec.HiddenSize % spec.NumHeads, Is.Zero, $"{spec}");
            Assert.That(spec.HeadDim, Is.AnyOf(64, 80, 96, 128), $"{spec}");
        }
    }
}
