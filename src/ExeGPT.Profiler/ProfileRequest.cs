using ExeGPT.Core;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>What to profile.</summary>
/// <param name="Config">The model's shape (a preset or a checkpoint's config); weights are seeded random.</param>
/// <param name="ModelName">Name recorded in the profile's fingerprint.</param>
/// <param name="Grid">Batch sizes and lengths to time.</param>
/// <param name="Threads">CPU threads per rank (0: every core shared evenly over the ranks).</param>
/// <param name="Seed">Seed of the random weights.</param>
/// <param name="Ranks">Devices sharing this host, as the runner runs cluster <c>cpux&lt;Ranks&gt;</c>: every point is
/// measured with all of them busy at once.</param>
/// <param name="TensorParallel">TP degrees to tabulate (null: 1); each divides <paramref name="Ranks"/> and the
/// model's heads and FFN width.</param>
/// <param name="KernelLibrary">A plug-in kernel library loaded into every rank's backend before its model is
/// built, so its kernels are what gets timed; null for the engine's own.</param>
/// <param name="Backend">The engine backend to time: CPU ranks, or CUDA with rank r on device r.</param>
/// <param name="Dtype">The backend's storage dtype; null for its default (CPU: F32; CUDA: BF16).</param>
public sealed record ProfileRequest(exg_model_config Config, string ModelName, ProfileGrid Grid, int Threads = 0, ulong Seed = 1,
    int Ranks = 1, int[]? TensorParallel = null, string? KernelLibrary = null,
    exg_backend_kind Backend = exg_backend_kind.EXG_BACKEND_CPU, exg_dtype? Dtype = null)
{
    /// <summary>True for CUDA: collectives, sampling and the logits stay on the devices.</summary>
    public bool OnDevice => Backend == exg_backend_kind.EXG_BACKEND_CUDA;

    /// <summary>The TP degrees, increasing.</summary>
    public IReadOnlyList<int> Degrees => TensorParallel is { Length: > 0 } tp ? [.. tp.Order()] : [1];

    /// <summary>CPU threads each rank's backend uses: <see cref="Threads"/>, else an even share of the cores.</summary>
    public int ThreadsPerRank => Threads > 0 ? Threads : Math.Max(1, Environment.ProcessorCount / Math.Max(1, Ranks));

    /// <summary>Throws <see cref="SpecException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (Ranks < 1)
            throw new SpecException($"profile: ranks must be at least 1, got {Ranks}");
        if (Threads < 0)
            throw new SpecException($"profile: threads per rank must be >= 0 (0: share the cores), got {Threads}");
        IReadOnlyList<int> degrees = Degrees;
        for (int i = 0; i < degrees.Count; i++)
        {
            int d = degrees[i];
            if (d < 1)
                throw new SpecException($"profile: tensor-parallel degree must be positive, got {d}");
            if (i > 0 && d == degrees[i - 1])
                throw new SpecException($"profile: tensor-parallel degree {d} is listed twice");
            if (Ranks % d != 0)
                throw new SpecException($"profile: tensor-parallel degree {d} does not divide the {Ranks} rank(s)");
            if (Config.num_heads % d != 0 || Config.ffn_dim % d != 0)
                throw new SpecException(
                    $"profile: tensor-parallel degree {d} does not divide model '{ModelName}''s {Config.num_heads} heads and {Config.ffn_dim} FFN width");
        }
        if (KernelLibrary is not null && !File.Exists(KernelLibrary))
            throw new SpecException($"profile: kernel library '{KernelLibrary}' does not exist");
    }
}
