using ExeGPT.Native.Interop;

namespace ExeGPT.Native;

/// <summary>The short names of storage dtypes a user types and logs show ("f32", "f16", "bf16"), and their sizes.</summary>
public static class DtypeNames
{
    /// <summary>Every dtype by its short name.</summary>
    public static IReadOnlyDictionary<string, exg_dtype> All { get; } = new Dictionary<string, exg_dtype>(StringComparer.Ordinal)
    {
        ["f32"] = exg_dtype.EXG_DTYPE_F32,
        ["f16"] = exg_dtype.EXG_DTYPE_F16,
        ["bf16"] = exg_dtype.EXG_DTYPE_BF16,
    };

    /// <summary>"f32", "f16" or "bf16".</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a dtype of the ABI.</exception>
    public static string Name(exg_dtype dtype) => dtype switch
    {
        exg_dtype.EXG_DTYPE_F32 => "f32",
        exg_dtype.EXG_DTYPE_F16 => "f16",
        exg_dtype.EXG_DTYPE_BF16 => "bf16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not an exg_dtype"),
    };

    /// <summary>Bytes per element: 4 for F32, 2 for F16 and BF16.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a dtype of the ABI.</exception>
    public static int ElementBytes(exg_dtype dtype) => dtype switch
    {
        exg_dtype.EXG_DTYPE_F32 => 4,
        exg_dtype.EXG_DTYPE_F16 or exg_dtype.EXG_DTYPE_BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not an exg_dtype"),
    };
}
