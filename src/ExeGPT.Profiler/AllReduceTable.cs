using System.Diagnostics;
using ExeGPT.Core.Profiles;
using ExeGPT.Native;

namespace ExeGPT.Profiler;

/// <summary>The all_reduce table of one TP degree d &gt; 1: <see cref="Comm.AllReduceSum"/> (the engine's own
/// collective) of 4 B, 16 B, … on every group at once, the slowest rank kept per repeat, median of the repeats.</summary>
internal static class AllReduceTable
{
    private const long FirstBytes = 4, Ratio = 4, AtLeastBytes = 64L << 20;

    /// <summary>4 B … 64 MiB in ×4 steps, continued until <paramref name="largestMessage"/> (the biggest
    /// activation the planner asks about) is covered.</summary>
    public static IReadOnlyList<long> Sizes(long largestMessage)
    {
        var sizes = new List<long>();
        long last = Math.Max(AtLeastBytes, largestMessage);
        for (long bytes = FirstBytes; ; bytes *= Ratio)
        {
            sizes.Add(bytes);
            if (bytes >= last)
                return sizes;
        }
    }

    public static ProfileTable1D Measure(RankGroups ranks, IReadOnlyList<long> sizes, int repeats, ProgressCounter progress)
    {
        int d = ranks.Degree;
        var buffers = new float[ranks.Count][];
        for (int r = 0; r < buffers.Length; r++)
        {
            buffers[r] = GC.AllocateUninitializedArray<float>((int)(sizes[^1] / sizeof(float)));
            buffers[r].AsSpan().Fill(1);
        }
        var seconds = new double[ranks.Count];
        var runs = new double[repeats];
        var times = new double[sizes.Count];
        for (int i = 0; i < sizes.Count; i++)
        {
            int count = (int)(sizes[i] / sizeof(float));
            // The first call at a size pays for page faults and wakes the peers: untimed.
            ranks.Crew.Run(r => ranks.CommOf(r)!.AllReduceSum(buffers[r].AsSpan(0, count)));
            for (int rep = 0; rep < repeats; rep++)
            {
                ranks.Crew.Run(r =>
                {
                    long start = Stopwatch.GetTimestamp();
                    ranks.CommOf(r)!.AllReduceSum(buffers[r].AsSpan(0, count));
                    seconds[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                });
                runs[rep] = seconds.Max();
            }
            times[i] = Samples.Median(runs);
            progress.Report($"all_reduce tp={d} {Bytes(sizes[i])}");
        }
        return new ProfileTable1D(ProfileTables.AllReduceName, d, new ProfileAxis("bytes", sizes.Select(s => (double)s)), times);
    }

    /// <summary>The table the planner uses: the in-situ cost per call (median per message size) where the layer
    /// measurements have it, the collective's own benchmark outside that range.</summary>
    public static ProfileTable1D WithInSitu(ProfileTable1D benchmark, SortedDictionary<int, List<double>> inSitu)
    {
        if (inSitu.Count == 0)
            return benchmark;
        double low = inSitu.Keys.First(), high = inSitu.Keys.Last();
        var points = new SortedDictionary<double, double>();
        foreach (var (bytes, samples) in inSitu)
            points[bytes] = Samples.Median(samples);
        for (int i = 0; i < benchmark.Axis.Points.Count; i++)
        {
            double bytes = benchmark.Axis.Points[i];
            if (bytes < low || bytes > high)
                points[bytes] = benchmark.Times[i];
        }
        return new ProfileTable1D(ProfileTables.AllReduceName, benchmark.TensorParallel,
            new ProfileAxis("bytes", points.Keys), points.Values);
    }

    /// <summary>The table of a collective that has no benchmark of its own (NCCL on device memory): the in-situ cost
    /// per call measured inside the steps, median per message size.</summary>
    public static ProfileTable1D FromInSitu(int degree, SortedDictionary<int, List<double>> inSitu) =>
        new(ProfileTables.AllReduceName, degree, new ProfileAxis("bytes", inSitu.Keys.Select(b => (double)b)),
            [.. inSitu.Values.Select(Samples.Median)]);

    /// <summary>"4 B", "16 KiB", "64 MiB".</summary>
    public static string Bytes(double bytes) => bytes switch
    {
        >= 1 << 30 => $"{bytes / (1 << 30):0.#} GiB",
        >= 1 << 20 => $"{bytes / (1 << 20):0.#} MiB",
        >= 1 << 10 => $"{bytes / (1 << 10):0.#} KiB",
        _ => $"{bytes:0} B",
    };
}
