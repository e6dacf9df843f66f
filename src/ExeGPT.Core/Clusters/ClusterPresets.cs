using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ExeGPT.Core.Clusters;

/// <summary>Clusters by name: the paper's two (Table 2), any count of a known GPU as
/// <c>&lt;device&gt;x&lt;N&gt;</c> in nodes of 8, and CPU ranks of the development machine.</summary>
/// <remarks>Names are case-insensitive. <c>&lt;device&gt;</c> is a100, a40, h100 or h200; N is 1–8 (one node)
/// or a multiple of 8 (N/8 full nodes). <c>cpu</c> is <c>cpux1</c>; <c>cpux&lt;N&gt;</c> is N ranks (1–64) in one
/// node sharing the machine's cores, bandwidth and memory evenly.</remarks>
public static class ClusterPresets
{
    private const double GB = 1e9;               // vendors' GB/s and TFLOP/s are decimal
    private const long GiB = 1L << 30;           // device memory sizes are binary (nvidia-smi's MiB totals)
    private const double Us = 1e-6;
    private const int GpusPerNode = 8;
    private const int MaxCpuRanks = 64;

    /// <summary>Name patterns accepted by <see cref="Get"/>.</summary>
    public static IReadOnlyList<string> Patterns { get; } =
        ["<a100|a40|h100|h200>x<N> (N = 1..8, or a multiple of 8 for nodes of 8)", "cpu", "cpux<N> (N = 1..64)"];

    /// <summary>Representative names: the paper's clusters, one full node of each GPU, and the CPU.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["a100x16", "a40x48", "a100x8", "a40x8", "h100x8", "h200x8", "cpu", "cpux2"];

    /// <summary>The cluster named <paramref name="name"/> (see the type's remarks).</summary>
    /// <exception cref="SpecException">A name no pattern accepts; the message lists the patterns.</exception>
    public static ClusterSpec Get(string name) =>
        TryGet(name, out ClusterSpec? cluster)
            ? cluster
            : throw new SpecException($"unknown cluster '{name}' (expected {string.Join(", ", Patterns)}; e.g. {string.Join(", ", Names)})");

    /// <summary>The cluster named <paramref name="name"/>, or false.</summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out ClusterSpec? cluster)
    {
        cluster = null;
        if (name is null) return false;
        string key = name.Trim().ToLowerInvariant();
        if (key == "cpu") key = "cpux1";
        int x = key.IndexOf('x');
        if (x <= 0 || x == key.Length - 1 || key.AsSpan(x + 1).ContainsAnyExceptInRange('0', '9')) return false;
        if (!int.TryParse(key.AsSpan(x + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count <= 0)
            return false;
        string device = key[..x];
        if (device == "cpu")
        {
            if (count > MaxCpuRanks) return false;
            cluster = Cpu(key, count);
            return true;
        }
        if (count > GpusPerNode && count % GpusPerNode != 0) return false;
        Gpu? gpu = device switch
        {
            "a100" => A100,
            "a40" => A40,
            "h100" => H100,
            "h200" => H200,
            _ => null,
        };
        if (gpu is null) return false;
        int nodes = count <= GpusPerNode ? 1 : count / GpusPerNode;
        int perNode = count <= GpusPerNode ? count : GpusPerNode;
        cluster = new ClusterSpec(key, gpu.Device, nodes, perNode, gpu.IntraNode, gpu.InterNode, gpu.HostLink);
        return true;
    }

    private sealed record Gpu(DeviceSpec Device, LinkSpec IntraNode, LinkSpec InterNode, LinkSpec HostLink);

    // Latencies (per message, order of magnitude): NVLink ~3 us, PCIe ~5 us, InfiniBand ~5 us, shared
    // memory ~1 us (NCCL / MPI small-message latencies as commonly reported).

    // NVIDIA A100 80GB SXM datasheet: 312 TFLOP/s dense FP16 tensor core, 2,039 GB/s HBM2e; NVLink 3 600 GB/s
    // bidirectional = 300 GB/s per direction. The paper's Azure NDm A100 v4 nodes have 8 x 200 Gb/s HDR
    // InfiniBand, one per GPU: 25 GB/s each. Host link PCIe 4.0 x16: ~25 GB/s effective of 32 GB/s.
    private static readonly Gpu A100 = new(
        new DeviceSpec("A100-80GB", 80 * GiB, 312e12, 2039 * GB),
        new LinkSpec("NVLink3", 300 * GB, 3 * Us),
        new LinkSpec("InfiniBand HDR 200Gb/s per GPU", 25 * GB, 5 * Us),
        new LinkSpec("PCIe 4.0 x16", 25 * GB, 5 * Us));

    // NVIDIA A40 datasheet: 149.7 TFLOP/s dense FP16 tensor core (299.4 with sparsity), 696 GB/s
    // GDDR6, 48 GB.
    // The paper's A40 machines join GPUs over PCIe 4.0 x16 (~25 GB/s effective) and machines over one
    // 100 Gb/s InfiniBand NIC = 12.5 GB/s per node. InterNode is what one sender gets: pipeline stages cross
    // a node boundary one at a time, so a boundary's send has the whole NIC.
    private static readonly Gpu A40 = new(
        new DeviceSpec("A40-48GB", 48 * GiB, 149.7e12, 696 * GB),
        new LinkSpec("PCIe 4.0 x16 peer", 25 * GB, 5 * Us),
        new LinkSpec("InfiniBand 100Gb/s per node", 12.5 * GB, 5 * Us),
        new LinkSpec("PCIe 4.0 x16", 25 * GB, 5 * Us));

    // NVIDIA H100 SXM5 80GB datasheet: 989 TFLOP/s dense FP16/BF16 tensor core (1,979 with sparsity),
    // 3.35 TB/s HBM3; NVLink 4 900 GB/s bidirectional = 450 GB/s per direction. DGX H100: 8 x 400 Gb/s
    // ConnectX-7 NDR, one per GPU = 50 GB/s each. Host link PCIe 5.0 x16: ~50 GB/s effective of 64 GB/s.
    private static readonly Gpu H100 = new(
        new DeviceSpec("H100-80GB-SXM", 80 * GiB, 989e12, 3350 * GB),
        new LinkSpec("NVLink4", 450 * GB, 3 * Us),
        new LinkSpec("InfiniBand NDR 400Gb/s per GPU", 50 * GB, 5 * Us),
        new LinkSpec("PCIe 5.0 x16", 50 * GB, 5 * Us));

    // NVIDIA H200 SXM datasheet: 141 GB HBM3e at 4.8 TB/s, same compute as H100 (989 TFLOP/s dense FP16)
    // and NVLink 4; DGX H200 networking as DGX H100.
    private static readonly Gpu H200 = new(
        new DeviceSpec("H200-141GB", 141 * GiB, 989e12, 4800 * GB),
        H100.IntraNode, H100.InterNode, H100.HostLink);

    // The development machine (bench/results/cpu-epyc-2core-2026-11-22.json, our measurement): 2 AMD EPYC
    // cores; measured FMA peak 234.95 GFLOP/s FP32 over both cores (the CPU backend computes in FP32, so this
    // is its "model dtype" peak); MemTotal 24.7 GB, of which 24 GB are planned with. Memory bandwidth is an
    // ESTIMATE: batch-1 decode streams the f32 weights at 26.6 GB/s (opt-125m) and 28.7 GB/s (opt-1.3b), so
    // ~30 GB/s. N ranks split compute, bandwidth and memory evenly (ranks beyond 2 time-share the cores).
    // Ranks exchange data through shared memory: an ESTIMATE of ~10 GB/s for a copy (each byte read and
    // written within the same ~30 GB/s) and ~1 us latency; the one node never uses InterNode, and HostLink is
    // the same memory.
    private const double CpuPeakFlops = 234.95e9;
    private const double CpuMemoryBandwidth = 30 * GB;
    private const long CpuMemoryBytes = 24_000_000_000;

    private static ClusterSpec Cpu(string name, int ranks)
    {
        var sharedMemory = new LinkSpec("shared memory", 10 * GB, 1 * Us);
        var device = new DeviceSpec(ranks == 1 ? "cpu" : $"cpu 1/{ranks}", CpuMemoryBytes / ranks,
            CpuPeakFlops / ranks, CpuMemoryBandwidth / ranks);
        return new ClusterSpec(name == "cpux1" ? "cpu" : name, device, 1, ranks, sharedMemory, sharedMemory, sharedMemory);
    }
}
