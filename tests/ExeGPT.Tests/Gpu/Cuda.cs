using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Gpu;

/// <summary>What the CUDA tests share: the skip rule, the shapes the CUDA kernels take, and the tolerances of half
/// precision storage.</summary>
public static class Cuda
{
    /// <summary>Skips the calling fixture, visibly and with the engine's reason, where no CUDA backend can be made.</summary>
    public static void RequireBackend()
    {
        if (!Backend.IsAvailable(exg_backend_kind.EXG_BACKEND_CUDA))
            Assert.Ignore($"no CUDA backend on this machine: {Backend.UnavailableReason(exg_backend_kind.EXG_BACKEND_CUDA)}");
    }

    /// <summary>The storage dtypes the CUDA backend has.</summary>
    public static readonly exg_dtype[] Dtypes = [exg_dtype.EXG_DTYPE_BF16, exg_dtype.EXG_DTYPE_F16];

    /// <summary>
    /// Worst logit error relative to the largest logit (the <see cref="Support.LogitAssert"/> criterion) allowed for
    /// a few-layer model stored in <paramref name="dtype"/> and accumulated in F32. Weights, activations and the KV
    /// cache are rounded to the storage type at every layer boundary, each rounding off by at most one unit roundoff
    /// u relative to its value: BF16 keeps 8 significant bits (u = 2^-8 = 3.9e-3), F16 11 (u = 2^-11 = 4.9e-4).
    /// Through the ~10 roundings of 2-3 layers and the LM head they add up to a few u of the largest logit; the
    /// tolerances allow about 8 u (BF16: 3e-2) and 10 u (F16: 5e-3): loose enough for honest rounding, tight enough
    /// that a wrong mask, position or head (errors of order 1) cannot pass.
    /// </summary>
    public static double Tolerance(exg_dtype dtype) => dtype switch
    {
        exg_dtype.EXG_DTYPE_BF16 => 3e-2,
        exg_dtype.EXG_DTYPE_F16 => 5e-3,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a CUDA storage dtype"),
    };

    /// <summary>A CUDA backend on device 0 storing <paramref name="dtype"/>.</summary>
    public static Backend Create(exg_dtype dtype) =>
        Backend.Create(new BackendOptions { Kind = exg_backend_kind.EXG_BACKEND_CUDA, Device = 0, Dtype = dtype });

    /// <summary>The tiny parity shapes, resized to head dims the CUDA attention kernels take (64, 80, 96, 128); each
    /// varies one switch of the architecture.</summary>
    public static IEnumerable<(string Name, OptSpec Spec)> Shapes()
    {
        var baseline = new OptSpec { HiddenSize = 128, NumHeads = 2, FfnDim = 256, VocabSize = 160, MaxPositions = 64 };
        yield return ("relu, pre-LN, tied, head dim 64", baseline);
        yield return ("gelu (erf), post-LN", baseline with { Activation = "gelu", PreLayerNorm = false });
        yield return ("gelu_new, untied, proj 64", baseline with { Activation = "gelu_new", TieWordEmbeddings = false, WordEmbedProjDim = 64 });
        yield return ("no bias, no LayerNorm affine", baseline with { EnableBias = false, LayerNormAffine = false });
        yield return ("3 layers, head dim 128", baseline with { NumLayers = 3, HiddenSize = 256, FfnDim = 512 });
        yield return ("head dim 80", baseline with { HiddenSize = 160, FfnDim = 320 });
        yield return ("head dim 96, odd vocab", baseline with { HiddenSize = 192, FfnDim = 384, VocabSize = 97 });
    }

    /// <summary>Every shape in every CUDA storage dtype.</summary>
    public static IEnumerable<TestCaseData> ShapesAndDtypes() =>
        from shape in Shapes()
        from dtype in Dtypes
        select new TestCaseData(shape.Spec, dtype).SetArgDisplayNames($"{shape.Name}, {DtypeNames.Name(dtype)}");

    /// <summary>Every CUDA storage dtype.</summary>
    public static IEnumerable<TestCaseData> DtypeCases() =>
        Dtypes.Select(d => new TestCaseData(d).SetArgDisplayNames(DtypeNames.Name(d)));

    /// <summary>A 3-layer, 4-head model of head dim 64 for the runtime and runner tests.</summary>
    public static readonly OptSpec RuntimeShape = new() { NumLayers = 3, NumHeads = 4, HiddenSize = 256, FfnDim = 512, VocabSize = 160, MaxPositions = 64 };

    /// <summary>A seeded checkpoint of <see cref="RuntimeShape"/>.</summary>
    public static TinyOptCheckpoint Checkpoint(int seed) => TinyOptCheckpoint.Create(RuntimeShape, seed: seed);
}
