using System.Runtime.InteropServices;
using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Native;
using ExeGPT.Native.Interop;
using Microsoft.Extensions.Logging;

namespace ExeGPT.Profiler;

/// <summary>The paper's XProfiler on the real engine: one layer of the model is built with seeded weights on every
/// rank of the host (cluster <c>cpux&lt;Ranks&gt;</c>) and every grid point is prefilled or decoded by all ranks at
/// once with per-part step timing on, for every TP degree, so attention and the rest of the layer are measured
/// separately, as the runner will run them. Also measured: the engine's all-reduce per TP degree, the KV hand-off
/// through pinned host buffers, and host copies for the other sends. The result is a measured profile in the same
/// format as the analytic one, with the achieved fraction of the device's roofline per point.</summary>
public static class XProfiler
{
    /// <summary>Measures the profile; <paramref name="progress"/> hears of every point.</summary>
    /// <exception cref="SpecException">A bad grid, rank count, TP degree or plug-in path, naming the value.</exception>
    public static ProfileTables Profile(ProfileRequest request, IProgress<ProfileProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        exg_model_config config = request.Config;
        ProfileGrid grid = request.Grid;
        ModelSpec spec = ModelSpecOf(config, request.ModelName);
        IReadOnlyList<int> degrees = request.Degrees;

        // One layer is enough: every layer of the model has the same shape, and timings are per layer.
        exg_model_config oneLayer = config;
        oneLayer.num_layers = 1;
        ClusterSpec? cluster = RooflineCluster(request);
        AnalyticCostModel? costs = cluster is null ? null : new AnalyticCostModel(spec, cluster);

        // The largest activation all-reduced: a prefill of the largest batch at the longest length.
        IReadOnlyList<long> allReduceSizes =
            AllReduceTable.Sizes((long)grid.MaxBatch * grid.Lengths[^1] * config.hidden_size * sizeof(float));
        int total = degrees.Count * (grid.PrefillRows.Count + grid.Batches.Count) * grid.Lengths.Count
            + degrees.Count(d => d > 1) * allReduceSizes.Count
            + KvHandOffTable.Points(grid, config.num_layers).Count + HostCopyTable.Points;
        var counter = new ProgressCounter(total, progress);

        var layers = new List<TensorParallelTables>();
        var allReduce = new List<ProfileTable1D>();
        string? kernelLibrary = null;
        foreach (int d in degrees)
        {
            // The decode points prefill context − 1 tokens and then step Repeats times.
            using var ranks = new RankGroups(request, oneLayer, d, grid.MaxBatch, grid.Lengths[^1] + grid.Repeats);
            kernelLibrary ??= ranks.KernelLibraryName ?? (request.KernelLibrary is { } file ? Path.GetFileName(file) : null);
            var inSitu = new SortedDictionary<int, List<double>>();
            layers.Add(LayerTables.Measure(ranks, grid, costs, counter, inSitu, config.hidden_size));
            if (d > 1)
                allReduce.Add(AllReduceTable.WithInSitu(
                    AllReduceTable.Measure(ranks, allReduceSizes, Math.Max(3, grid.Repeats), counter), inSitu));
        }
        ProfileTable1D hostStaged;
        using (var handOff = new KvHandOffTable(request, oneLayer, config.num_layers))
            hostStaged = handOff.Measure(grid, counter);
        ProfileTable1D send = HostCopyTable.Measure(ProfileTables.SendIntraNodeName, counter);

        var metadata = new ProfileMetadata(ProfileKind.Measured, ModelFingerprint.Of(spec), DeviceName(request), BackendName(request),
            EngineVersion(), DateTime.UtcNow, Notes(request, kernelLibrary), kernelLibrary);
        return new ProfileTables(metadata, layers, allReduce, send,
            HostCopyTable.Rename(send, ProfileTables.SendInterNodeName), hostStaged,
            cluster is null ? null : ProfileRoofline.Compute(layers, cluster.Device));
    }

    /// <summary><see cref="Profile"/> through the profile cache: a profile measured before for the same model shape,
    /// backend, device (host CPU, ranks, threads per rank), engine build, grid, TP degrees and kernel library is read
    /// back instead of measured again (<paramref name="hit"/> true; <paramref name="progress"/> is not called). A
    /// cached file that does not read is measured again and replaced, with a warning.</summary>
    /// <param name="request">What to profile.</param>
    /// <param name="cacheDir">The cache folder; null for <see cref="ProfileCache.DefaultDirectory"/>.</param>
    /// <param name="progress">Hears of every measured point.</param>
    /// <param name="hit">True when the profile came from the cache.</param>
    /// <param name="log">Where cache problems are reported (corrupt or unwritable files).</param>
    public static ProfileTables ProfileCached(ProfileRequest request, string? cacheDir, IProgress<ProfileProgress>? progress,
        out bool hit, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        string path = CachePath(request, cacheDir);
        ModelSpec spec = ModelSpecOf(request.Config, request.ModelName);
        if (ProfileCache.TryRead(path, spec, log) is { } cached)
        {
            hit = true;
            return cached;
        }
        hit = false;
        ProfileTables profile = Profile(request, progress);
        ProfileCache.Write(path, profile, log);
        return profile;
    }

    /// <summary>The cache file <see cref="ProfileCached"/> uses for <paramref name="request"/>.</summary>
    public static string CachePath(ProfileRequest request, string? cacheDir = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Path.Combine(cacheDir ?? ProfileCache.DefaultDirectory(),
            ProfileCache.FileName(ProfileCache.Key(request, DeviceName(request), BackendName(request), EngineVersion())));
    }

    /// <summary>The planner's view of an engine config: decoder-only, multi-head, FP32 on the CPU backend.</summary>
    public static ModelSpec ModelSpecOf(in exg_model_config c, string name) => new(
        name, ModelArchitecture.DecoderOnly, 0, c.num_layers, c.hidden_size, c.num_heads, c.num_heads,
        c.hidden_size / c.num_heads, c.ffn_dim, GatedFfn: false, c.vocab_size, DtypeBytes: 4, c.max_positions);

    private static void Validate(ProfileRequest request)
    {
        request.Grid.Validate(request.Config.max_positions);
        if (request.Grid.Lengths[0] < 2)
            throw new SpecException("profile grid: lengths start at 2 (a decode context of 1 has no prompt to prefill)");
        request.Validate();
    }

    /// <summary>The cluster preset whose device the roofline is drawn against: <c>cpux&lt;Ranks&gt;</c> for CPU ranks
    /// (each rank a 1/Ranks share of the host); none for other backends, which have no preset for this host.</summary>
    private static ClusterSpec? RooflineCluster(ProfileRequest request) =>
        request.Backend == exg_backend_kind.EXG_BACKEND_CPU && ClusterPresets.TryGet($"cpux{request.Ranks}", out ClusterSpec? cluster)
            ? cluster
            : null;

    private static string BackendName(ProfileRequest request) =>
        request.Backend == exg_backend_kind.EXG_BACKEND_CPU ? "cpu" : "cuda";

    private static string DeviceName(ProfileRequest request) => request.Backend == exg_backend_kind.EXG_BACKEND_CPU
        ? $"{HostCpu.Name}, {request.Ranks} rank(s) x {request.ThreadsPerRank} thread(s)"
        : $"{BackendName(request)} x {request.Ranks}";

    private static string Notes(ProfileRequest request, string? kernelLibrary)
    {
        ProfileGrid grid = request.Grid;
        string notes = $"XProfiler, one layer, seed {request.Seed}; {request.Ranks} rank(s) busy at once; tp {string.Join(",", request.Degrees)}; " +
            $"prefill batches {string.Join(",", grid.PrefillRows)}; decode batches {string.Join(",", grid.Batches)}; lengths {string.Join(",", grid.Lengths)}; median of {grid.Repeats}, slowest rank; " +
            "send.host_staged is the KV export/import through pinned host buffers, the other sends host memory copies";
        return kernelLibrary is null ? notes : $"{notes}; kernel library {kernelLibrary} ({request.KernelLibrary})";
    }

    private static string EngineVersion() =>
        $"exegpt api {NativeMethods.ApiVersion}, {typeof(XProfiler).Assembly.GetName().Version}, {RuntimeInformation.OSArchitecture}";
}
