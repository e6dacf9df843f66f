namespace ExeGPT.Core.Clusters;

/// <summary>The machine this process runs on, as profiles and benchmark results describe it.</summary>
public static class HostCpu
{
    /// <summary>The CPU model from /proc/cpuinfo ("unknown" where there is none).</summary>
    public static string Name { get; } = ReadName();

    private static string ReadName()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo))
            return "unknown";
        string? line = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?.Split(':', 2)[1].Trim() ?? "unknown";
    }
}
