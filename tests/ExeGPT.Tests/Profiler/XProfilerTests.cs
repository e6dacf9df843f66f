using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Native;
using ExeGPT.Profiler;
using ExeGPT.Simulator;

namespace ExeGPT.Tests.Profiler;

/// <summary>The XProfiler on the CPU engine: the measured profile has the planner's format, round-trips, and
/// the simulator plans with it. Structure and signs only — speed belongs to benchmarks.</summary>
[TestFixture]
public sealed class XProfilerTests
{
    private static readonly ProfileGrid Grid = new([1, 2], [4, 8], Repeats: 2);

    private static (ProfileTables Profile, ModelSpec Spec) Measure()
    {
        var config = ModelConfigs.Preset("tiny");
        var seen = new List<ProfileProgress>();
        var profile = XProfiler.Profile(new ProfileRequest(config, "tiny", Grid, Threads: 1), new SyncProgress(seen));
        Assert.That(seen.Count(p => p.Point.StartsWith("prefill", StringComparison.Ordinal)), Is.EqualTo(4), "one report per prefill point");
        Assert.That(seen.Count(p => p.Point.StartsWith("decode", StringComparison.Ordinal)), Is.EqualTo(4), "one report per decode point");
        Assert.That(seen.Select(p => p.Done), Is.EqualTo(Enumerable.Range(1, seen.Count)), "counted one by one");
        Assert.That(seen.Select(p => p.Total), Is.All.EqualTo(seen.Count), "the total is known from the start");
        return (profile, XProfiler.ModelSpecOf(config, "tiny"));
    }

    [Test]
    public void MeasuresEveryGridPointIntoThePlannersFormat()
    {
        var (profile, spec) = Measure();
        Assert.That(profile.Metadata.Kind, Is.EqualTo(ProfileKind.Measured));
        Assert.That(profile.TensorParallelDegrees, Is.EqualTo(new[] { 1 }));
        TensorParallelTables t = profile.Layers.Single();
        Assert.That(t.EncoderAttention.Rows.Points, Is.EqualTo(new double[] { 1, 2 }));
        Assert.That(t.EncoderAttention.Columns.Points, Is.EqualTo(new double[] { 4, 8 }));
        Assert.That(t.EncoderRest.Axis.Points, Is.EqualTo(new double[] { 4, 8, 16 }), "tokens = batch x length");
        Assert.That(t.DecoderRest.Axis.Points, Is.EqualTo(new double[] { 1, 2 }), "decode tokens = batch");
        foreach (double time in t.EncoderAttention.Times.Concat(t.DecoderAttention.Times).Concat(t.EncoderRest.Times).Concat(t.DecoderRest.Times))
            Assert.That(time, Is.GreaterThan(0));
        profile.RequireMatches(spec);

        // The file the CLI writes reads back to the same numbers.
        string path = Path.Combine(Path.GetTempPath(), $"exegpt-profile-{Guid.NewGuid():N}.json");
        try
        {
            ProfileJson.Write(profile, path);
            ProfileTables back = ProfileJson.Read(path);
            Assert.That(back.Layers.Single().DecoderAttention.Times, Is.EqualTo(t.DecoderAttention.Times));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void TheSimulatorPlansWithAMeasuredProfile()
    {
        var (profile, spec) = Measure();
        // Every query stays inside the measured grid: prompts of 6 (between 4 and 8), 3 output tokens
        // (contexts 7 and 8), batches of at most 2.
        WorkloadSpec workload = TraceReader.FromRows("inside", [new QueryLengths(6, 3), new QueryLengths(6, 3)]);
        var ctx = new SimulationContext(spec, ClusterPresets.Get("cpu"), workload, profile);
        SimulationResult r = XSimulator.Simulate(ctx, new Schedule(Policy.Static, 2));
        Assert.That(r.Feasible, Is.True, r.Reason);
        Assert.That(r.ThroughputSeqPerS, Is.GreaterThan(0));

        // Outside the grid the answer is "outside the profile", not an extrapolation.
        SimulationResult big = XSimulator.Simulate(ctx, new Schedule(Policy.Static, 8));
        Assert.That(big.Feasible, Is.False);
        Assert.That(big.Reason, Does.Contain("outside the profile"));
    }

    [Test]
    public void PrefillAndDecodeBatchesMayDiffer()
    {
        var config = ModelConfigs.Preset("tiny");
        var grid = new ProfileGrid([1, 2, 4], [4, 8], Repeats: 1, PrefillBatches: [1, 2]);
        ProfileTables profile = XProfiler.Profile(new ProfileRequest(config, "tiny", grid, Threads: 1));
        TensorParallelTables t = profile.Layers.Single();
        Assert.That(t.EncoderAttention.Rows.Points, Is.EqualTo(new double[] { 1, 2 }));
        Assert.That(t.EncoderRest.Axis.Points, Is.EqualTo(new double[] { 4, 8, 16 }));
        Assert.That(t.DecoderAttention.Rows.Points, Is.EqualTo(new double[] { 1, 2, 4 }));
        Assert.That(t.DecoderRest.Axis.Points, Is.EqualTo(new double[] { 1, 2, 4 }));
        // Hand-offs are of encoded batches: at most 2 slots x 8 tokens x 2 layers of 2 x 64 floats.
        Assert.That(profile.SendHostStaged.Axis.Last, Is.EqualTo(2 * 8 * 2 * 2 * 64 * 4));
    }

    [Test]
    public void ABadGridIsRejected()
    {
        var config = ModelConfigs.Preset("tiny");
        var e = Assert.Throws<SpecException>(() =>
            XProfiler.Profile(new ProfileRequest(config, "tiny", new ProfileGrid([2, 1], [4, 8]))));
        Assert.That(e!.Message, Does.Contain("batch sizes must increase"));
        e = Assert.Throws<SpecException>(() =>
            XProfiler.Profile(new ProfileRequest(config, "tiny", new ProfileGrid([1, 2], [4, 8], PrefillBatches: [0, 1]))));
        Assert.That(e!.Message, Does.Contain("prefill batch sizes must be positive, got 0"));
    }

    /// <summary>Records reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
    internal sealed class SyncProgress(List<ProfileProgress> seen) : IProgress<ProfileProgress>
    {
        public void Report(ProfileProgress value) => seen.Add(value);
    }
}
