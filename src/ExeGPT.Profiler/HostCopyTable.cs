using System.Diagnostics;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Profiler;

/// <summary>The send.intra_node and send.inter_node tables: CPU ranks share one machine, so an activation sent
/// between pipeline stages is a host memory copy. 1 byte to 256 MiB (ratio 16), median of 5.</summary>
internal static class HostCopyTable
{
    private const int MaxBytes = 256 << 20, Runs = 5;

    /// <summary>Points the table has (for progress counts).</summary>
    public const int Points = 8;

    public static ProfileTable1D Measure(string name, ProgressCounter progress)
    {
        var sizes = new List<double>();
        for (long bytes = 1; bytes <= MaxBytes; bytes *= 16) sizes.Add(bytes);
        byte[] source = GC.AllocateUninitializedArray<byte>(MaxBytes), target = GC.AllocateUninitializedArray<byte>(MaxBytes);
        source.AsSpan().Fill(1);
        target.AsSpan().Clear(); // first touch outside the timed copies
        var times = new double[sizes.Count];
        var runs = new double[Runs];
        for (int i = 0; i < sizes.Count; i++)
        {
            for (int r = 0; r < runs.Length; r++)
            {
                long start = Stopwatch.GetTimestamp();
                source.AsSpan(0, (int)sizes[i]).CopyTo(target);
                runs[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            times[i] = Samples.Median(runs);
            progress.Report($"host copy {AllReduceTable.Bytes(sizes[i])}");
        }
        Samples.RunningMax(times);
        return new ProfileTable1D(name, null, new ProfileAxis("bytes", sizes), times);
    }

    /// <summary>The same table under another name.</summary>
    public static ProfileTable1D Rename(ProfileTable1D t, string name) => new(name, null, t.Axis, t.Times.ToArray());
}
