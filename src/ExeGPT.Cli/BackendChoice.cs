using System.CommandLine;
using ExeGPT.Core;
using ExeGPT.Native;
using ExeGPT.Native.Interop;

namespace ExeGPT.Cli;

/// <summary>The engine backend a command runs on (<c>--backend cpu|cuda</c>, <c>--dtype bf16|f16</c> for cuda), shared
/// by generate, profile and run.</summary>
/// <param name="Kind">CPU, or CUDA (rank r on device r).</param>
/// <param name="Dtype">The storage dtype asked for; null for the backend's default.</param>
internal sealed record BackendChoice(exg_backend_kind Kind, exg_dtype? Dtype)
{
    /// <summary>The storage dtypes of the CUDA backend by name (the CPU backend stores F32 only).</summary>
    private static readonly string[] CudaDtypes = ["bf16", "f16"];

    public bool IsCuda => Kind == exg_backend_kind.EXG_BACKEND_CUDA;

    public static Option<string> BackendOption() => new("--backend")
    {
        Description = "Engine backend: cpu, or cuda (rank r on GPU r).",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<string?> DtypeOption() => new("--dtype")
    {
        Description = "Storage dtype on --backend cuda: bf16 (default) or f16, accumulating in f32 (cpu stores f32 only).",
    };

    /// <summary>The choice the two options make.</summary>
    /// <exception cref="ArgumentException">Not a backend, or not a CUDA dtype.</exception>
    /// <exception cref="SpecException">cuda is unavailable here (quoting the engine's reason), or --dtype with cpu.</exception>
    public static BackendChoice Parse(string backend, string? dtype)
    {
        ArgumentNullException.ThrowIfNull(backend);
        exg_backend_kind kind = backend.Trim().ToLowerInvariant() switch
        {
            "cpu" => exg_backend_kind.EXG_BACKEND_CPU,
            "cuda" => exg_backend_kind.EXG_BACKEND_CUDA,
            _ => throw new ArgumentException($"--backend: '{backend}' is not a backend (cpu, cuda)"),
        };
        if (kind == exg_backend_kind.EXG_BACKEND_CUDA && !Backend.IsAvailable(kind))
            throw new SpecException(Unavailable(Backend.UnavailableReason(kind)));
        if (dtype is null)
            return new BackendChoice(kind, null);
        if (kind == exg_backend_kind.EXG_BACKEND_CPU)
            throw new SpecException($"--dtype {dtype}: the cpu backend stores f32 only; --dtype applies to --backend cuda");
        string name = dtype.Trim().ToLowerInvariant();
        if (!CudaDtypes.Contains(name))
            throw new ArgumentException($"--dtype: '{dtype}' is not a storage dtype of the cuda backend ({string.Join(", ", CudaDtypes)})");
        return new BackendChoice(kind, DtypeNames.All[name]);
    }

    /// <summary>The error for --backend cuda on a machine that cannot run it: the engine's reason as it is (it already
    /// says what is unavailable, e.g. "CUDA backend unavailable: no CUDA-capable device is detected").</summary>
    internal static string Unavailable(string reason) =>
        $"--backend cuda: {(reason.Length > 0 ? reason : "the CUDA backend is unavailable on this machine")}";
}
