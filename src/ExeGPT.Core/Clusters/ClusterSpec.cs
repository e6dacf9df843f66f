namespace ExeGPT.Core.Clusters;

/// <summary>One accelerator (or CPU rank) as the analytic roofline sees it.</summary>
/// <param name="Name">e.g. "A100-80GB".</param>
/// <param name="MemoryBytes">Device memory.</param>
/// <param name="PeakFlops">Dense peak at the model dtype (fp16/bf16 tensor cores for GPUs), FLOP/s.</param>
/// <param name="MemoryBandwidth">Peak device-memory bandwidth, bytes/s.</param>
/// <param name="UsableMemoryFraction">Share of <paramref name="MemoryBytes"/> a schedule may plan to use
/// (the rest is runtime context, allocator slack, workspaces).</param>
public sealed record DeviceSpec(string Name, long MemoryBytes, double PeakFlops, double MemoryBandwidth,
    double UsableMemoryFraction = 0.9)
{
    /// <summary>Bytes a schedule may plan to use.</summary>
    public long UsableMemoryBytes => (long)(MemoryBytes * UsableMemoryFraction);
}

/// <summary>An alpha-beta link: sending n bytes costs Latency + n / Bandwidth.</summary>
/// <param name="Name">e.g. "NVLink3".</param>
/// <param name="Bandwidth">Bytes/s in one direction for one device.</param>
/// <param name="Latency">Seconds per message.</param>
public sealed record LinkSpec(string Name, double Bandwidth, double Latency)
{
    /// <summary>Alpha-beta time of one message.</summary>
    public double TransferSeconds(double bytes) => Latency + bytes / Bandwidth;
}

/// <summary>Identical devices in <paramref name="Nodes"/> nodes of <paramref name="DevicesPerNode"/>;
/// devices are numbered node by node.</summary>
/// <param name="Name">Preset or user name, e.g. "a40x16".</param>
/// <param name="Device">The device every slot holds.</param>
/// <param name="Nodes">Number of nodes.</param>
/// <param name="DevicesPerNode">Devices in each node.</param>
/// <param name="IntraNode">Device-to-device link inside a node (NVLink, PCIe, shared memory).</param>
/// <param name="InterNode">The network between nodes (InfiniBand) as one sender sees it: pipeline stages cross
/// a node boundary one at a time.</param>
/// <param name="HostLink">Device-to-host link (PCIe): the WAA KV hand-off goes device → pinned host → device.</param>
public sealed record ClusterSpec(string Name, DeviceSpec Device, int Nodes, int DevicesPerNode,
    LinkSpec IntraNode, LinkSpec InterNode, LinkSpec HostLink)
{
    /// <summary>Nodes × DevicesPerNode.</summary>
    public int TotalDevices => Nodes * DevicesPerNode;

    /// <summary>Node that holds device <paramref name="device"/> (0-based).</summary>
    public int NodeOf(int device) => device / DevicesPerNode;

    /// <summary>The link between two devices: intra-node when they share a node.</summary>
    public LinkSpec LinkBetween(int a, int b) => NodeOf(a) == NodeOf(b) ? IntraNode : InterNode;

    /// <summary>Throws <see cref="SpecException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (Nodes <= 0 || DevicesPerNode <= 0)
            throw new SpecException($"cluster '{Name}': nodes ({Nodes}) and devices per node ({DevicesPerNode}) must be positive");
        if (Device.MemoryBytes <= 0 || Device.PeakFlops <= 0 || Device.MemoryBandwidth <= 0)
            throw new SpecException($"cluster '{Name}': device '{Device.Name}' needs positive memory, peak FLOP/s and bandwidth");
        if (Device.UsableMemoryFraction is <= 0 or > 1)
            throw new SpecException($"cluster '{Name}': usable memory fraction must be in (0, 1], got {Device.UsableMemoryFraction}");
        foreach (LinkSpec link in new[] { IntraNode, InterNode, HostLink })
            if (link.Bandwidth <= 0 || link.Latency < 0)
                throw new SpecException($"cluster '{Name}': link '{link.Name}' needs positive bandwidth and non-negative latency");
    }
}
