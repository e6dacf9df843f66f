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
/// rank of the host (cluster <c>cpux&lt;Ranks&gt;</c>, or CUDA devices 0..Ranks-1) and every grid point is prefilled
/// or decoded by all ranks at once with per-part step timing on, for every TP degree, so attention and the rest of the
/// layer are measured separately, as the runner will run them. Also measured: the engine's all-reduce per TP degree,
/// the KV hand-off through pinned host buffers, and host copies for the other sends. The result is a measured profile
/// in the same format as the analytic one, with the achieved fraction of the device's roofline per point.</summary>
public static class XProfiler
{
    /// <summary>Measures the profile; <paramref name="progress"/> hears of every point.</summary>
    /// <exception cref="SpecException">A bad grid, rank count, TP degree or plug-in path, naming the value.</exception>
    public static ProfileTables Profile(ProfileRequest request, IProgress<ProfileProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        return Measure(request, ProfileTarget.Probe(request), progress);
    }

    private static ProfileTables Measure(ProfileRequest request, ProfileTarget target, IProgress<ProfileProgress>? progress)
    {
        exg_model_config config = request.Config;
        ProfileGrid grid = request.Grid;
        ModelSpec spec = ModelSpecOf(config, request.ModelName, target.DtypeBytes);
        IReadOnlyList<int> degrees = request.Degrees;

        // One layer is enough: every layer of the model has the same shape, and timings are per layer.
        exg_model_config oneLayer = config;
        oneLayer.num_layers = 1;
        ClusterSpec? cluster = RooflineCluster(request, target);
        AnalyticCostModel? costs = cluster is null ? null : new AnalyticCostModel(spec, cluster);

        // The largest activation all-reduced: a prefill of the largest batch at the longest length. NCCL's all-reduce
        // works on device memory only, so on CUDA it is timed inside the steps rather than benchmarked on its own.
        IReadOnlyList<long> allReduceSizes =
            AllReduceTable.Sizes((long)grid.MaxBatch * grid.Lengths[^1] * config.hidden_size * target.DtypeBytes);
        int total = degrees.Count * (grid.PrefillRows.Count + grid.Batches.Count) * grid.Lengths.Count
            + (request.OnDevice ? 0 : degrees.Count(d => d > 1) * allReduceSizes.Count)
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
            layers.Add(LayerTables.Measure(ranks, grid, costs, counter, inSitu, config.hidden_size, target.DtypeBytes, request.OnDevice));
            if (d > 1)
                allReduce.Add(request.OnDevice
                    ? AllReduceTable.FromInSitu(d, inSitu)
                    : AllReduceTable.WithInSitu(AllReduceTable.Measure(ranks, allReduceSizes, Math.Max(3, grid.Repeats), counter), inSitu));
        }
        ProfileTable1D hostStaged;
        using (var handOff = new KvHandOffTable(request, oneLayer, config.num_layers, target.DtypeBytes))
            hostStaged = handOff.Measure(grid, counter);
        ProfileTable1D send = HostCopyTable.Measure(ProfileTables.SendIntraNodeName, counter);

        var metadata = new ProfileMetadata(ProfileKind.Measured, ModelFingerprint.Of(spec), target.DeviceName, BackendName(request),
            EngineVersion(), DateTime.UtcNow, Notes(request, target, kernelLibrary), kernelLibrary);
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
        ProfileTarget target = ProfileTarget.Probe(request);
        string path = CachePath(request, cacheDir, target);
        ModelSpec spec = ModelSpecOf(request.Config, request.ModelName, target.DtypeBytes);
        if (ProfileCache.TryRead(path, spec, log) is { } cached)
        {
            hit = true;
            return cached;
        }
        hit = false;
        ProfileTables profile = Measure(request, target, progress);
        ProfileCache.Write(path, profile, log);
        return profile;
    }

    /// <summary>The cache file <see cref="ProfileCached"/> uses for <paramref name="request"/> (on CUDA this opens device
    /// 0 to name it).</summary>
    public static string CachePath(ProfileRequest request, string? cacheDir = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        return CachePath(request, cacheDir, ProfileTarget.Probe(request));
    }

    private static string CachePath(ProfileRequest request, string? cacheDir, ProfileTarget target) =>
        Path.Combine(cacheDir ?? ProfileCache.DefaultDirectory(),
            ProfileCache.FileName(ProfileCache.Key(request, target.DeviceName, BackendName(request), EngineVersion(), target.DtypeBytes)));

    /// <summary>The planner's view of an engine config: decoder-only, multi-head, at <paramref name="dtypeBytes"/> per
    /// element (4: F32, the CPU backend's; 2: the CUDA backend's BF16/F16).</summary>
    public static ModelSpec ModelSpecOf(in exg_model_config c, string name, int dtypeBytes = 4) => new(
        name, ModelArchitecture.DecoderOnly, 0, c.num_layers, c.hidden_size, c.num_heads, c.num_heads,
        c.hidden_size / c.num_heads, c.ffn_dim, GatedFfn: false, c.vocab_size, DtypeBytes: dtypeBytes, c.max_positions);

    private static void Validate(ProfileRequest request)
    {
        request.Grid.Validate(request.Config.max_positions);
        if (request.Grid.Lengths[0] < 2)
            throw new SpecException("profile grid: lengths start at 2 (a decode context of 1 has no prompt to prefill)");
        request.Validate();
    }

    /// <summary>The device the roofline is drawn against: the cluster preset <c>cpux&lt;Ranks&gt;</c> for CPU ranks
    /// (each rank a 1/Ranks share of the host); on CUDA the device the backend reports (<see cref="GpuPeaks"/>), none
    /// when its peak is not known.</summary>
    private static ClusterSpec? RooflineCluster(ProfileRequest request, ProfileTarget target)
    {
        if (target.Device is { } device)
            return GpuPeaks.Cluster(device, request.Ranks);
        return ClusterPresets.TryGet($"cpux{request.Ranks}", out ClusterSpec? cluster) ? cluster : null;
    }

    private static string BackendName(ProfileRequest request) => request.OnDevice ? "cuda" : "cpu";

    private static string Notes(ProfileRequest request, ProfileTarget target, string? kernelLibrary)
    {
        ProfileGrid grid = request.Grid;
        string notes = $"XProfiler, one layer, seed {request.Seed}; {request.Ranks} rank(s) busy at once; tp {string.Join(",", request.Degrees)}; " +
            $"prefill batches {string.Join(",", grid.PrefillRows)}; decode batches {string.Join(",", grid.Batches)}; lengths {string.Join(",", grid.Lengths)}; median of {grid.Repeats}, slowest rank; " +
            "send.host_staged is the KV export/import through pinned host buffers, the other sends host memory copies";
        if (request.OnDevice)
            notes += $"; storage {DtypeNames.Name(target.Dtype)}; all_reduce is NCCL timed inside the steps; logits sampled on the device";
        return kernelLibrary is null ? notes : $"{notes}; kernel library {kernelLibrary} ({request.KernelLibrary})";
    }

    private static string EngineVersion() =>
        $"exegpt api {NativeMethods.ApiVersion}, {typeof(XProfiler).Assembly.GetName().Version}, {RuntimeInformation.OSArchitecture}";
}
