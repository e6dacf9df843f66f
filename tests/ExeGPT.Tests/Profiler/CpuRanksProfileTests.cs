using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Profiler;
using ExeGPT.Simulator;

namespace ExeGPT.Tests.Profiler;

/// <summary>A profile of two CPU ranks at TP degrees 1 and 2 (cluster cpux2): one set of layer tables per degree,
/// the all-reduce and KV hand-off tables, the roofline section — and the simulator plans every policy with it.
/// Structure, coverage and plausible ranges only; speed belongs to benchmarks.</summary>
[TestFixture]
public sealed class CpuRanksProfileTests
{
    // Batch 8 is where WAA-C weighs encoding against decoding, so the grid reaches it.
    private static readonly ProfileGrid Grid = new([1, 2, 4, 8], [4, 8], Repeats: 1);
    private exg_model_config _config;
    private ProfileTables _profile = null!;

    [OneTimeSetUp]
    public void Measure()
    {
        _config = ModelConfigs.Preset("tiny");
        _profile = XProfiler.Profile(new ProfileRequest(_config, "tiny", Grid, Threads: 1, Ranks: 2, TensorParallel: [1, 2]));
    }

    [Test]
    public void EveryDegreeHasLayerTablesAndDegreeTwoAnAllReduceTable()
    {
        Assert.That(_profile.TensorParallelDegrees, Is.EqualTo(new[] { 1, 2 }));
        foreach (TensorParallelTables t in _profile.Layers)
        {
            Assert.That(t.EncoderAttention.Rows.Points, Is.EqualTo(new double[] { 1, 2, 4, 8 }), $"tp={t.TensorParallel}");
            Assert.That(t.DecoderAttention.Columns.Points, Is.EqualTo(new double[] { 4, 8 }), $"tp={t.TensorParallel}");
            Assert.That(t.EncoderAttention.Times.Concat(t.DecoderRest.Times), Is.All.GreaterThan(0), $"tp={t.TensorParallel}");
        }

        ProfileTable1D allReduce = _profile.AllReduceTables.Single();
        Assert.That(allReduce.TensorParallel, Is.EqualTo(2));
        // In situ (measured inside the TP prefill steps) at every activation the grid's prefills all-reduced, b x s x
        // hidden floats; the collective's benchmark (4 B, 16 B, ... 64 MiB) outside that range.
        int hidden = _config.hidden_size;
        double[] inSitu = [.. new[] { 1, 2, 4, 8 }.SelectMany(b => new[] { 4, 8 }.Select(s => b * s * hidden * 4.0)).Distinct().Order()];
        double[] benchmark = [.. Enumerable.Range(1, 13).Select(i => Math.Pow(4, i)).Where(x => x < inSitu[0] || x > inSitu[^1])];
        Assert.That(allReduce.Axis.Points, Is.EqualTo(benchmark.Concat(inSitu).Order().ToArray()));
        Assert.That(allReduce.Times, Is.All.GreaterThanOrEqualTo(0));
        Assert.That(_profile.AllReduce(2, 64 * 4), Is.GreaterThan(0));

        string json = ProfileJson.ToJson(_profile);
        Assert.That(ProfileJson.ToJson(ProfileJson.ReadFromString(json)), Is.EqualTo(json), "the file round-trips");
    }

    [Test]
    public void TheHostStagedTableCoversEveryHandOffAndNeverFallsWithSize()
    {
        // One layer's KV per token: keys and values of 64 FP32 features.
        const double kvBytesPerToken = 2 * 64 * 4;
        ProfileTable1D table = _profile.SendHostStaged;
        Assert.That(table.Axis.First, Is.EqualTo(1 * 4 * 1 * kvBytesPerToken), "1 slot of the shortest length, one layer");
        Assert.That(table.Axis.Last, Is.EqualTo(8 * 8 * _config.num_layers * kvBytesPerToken), "the largest batch at the longest length, every layer");
        Assert.That(table.Times, Is.All.GreaterThan(0));
        for (int i = 1; i < table.Times.Count; i++)
            Assert.That(table.Times[i], Is.GreaterThanOrEqualTo(table.Times[i - 1]), $"point {i}");
    }

    [Test]
    public void RooflineFractionsArePlausible()
    {
        ProfileRoofline roofline = _profile.Roofline ?? throw new AssertionException("no roofline section");
        DeviceSpec device = ClusterPresets.Get("cpux2").Device;
        Assert.That(roofline.Device, Is.EqualTo(device.Name));
        Assert.That(roofline.PeakFlops, Is.EqualTo(device.PeakFlops));
        Assert.That(roofline.Ops, Has.Count.EqualTo(2 * 4), "attention and rest, prefill and decode, two degrees");
        foreach (RooflineOp op in roofline.Ops)
        {
            Assert.That(op.Fraction, Is.All.GreaterThan(0).And.LessThanOrEqualTo(1.5), $"{op.Table} tp={op.TensorParallel}");
            Assert.That(op.AchievedTflops.Concat(op.AchievedGbps), Is.All.GreaterThan(0), $"{op.Table} tp={op.TensorParallel}");
            Assert.That(op.BestFraction, Is.EqualTo(op.Fraction.Max()));
            Assert.That(op.MedianFraction, Is.LessThanOrEqualTo(op.BestFraction));
        }

        // Hand-computed: causal prefill attention of 1 x 4 tokens at tp 1 is 0.5 x 4 x b x s^2 x 64 = 2048 FLOPs and
        // reads Q, K, V and writes O: 1 x 4 x 4 x 64 floats = 4096 bytes.
        ProfileTable2D attention = _profile.Layers[0].EncoderAttention;
        Assert.That(attention.Flops![0], Is.EqualTo(2048));
        Assert.That(attention.MemoryBytes![0], Is.EqualTo(4096));
        RooflineOp op0 = roofline.Ops.Single(o => o.TensorParallel == 1 && o.Table == TensorParallelTables.EncoderAttentionName);
        double expected = Math.Max(2048 / device.PeakFlops, 4096 / device.MemoryBandwidth) / attention.Times[0];
        Assert.That(op0.Fraction[0], Is.EqualTo(expected).Within(1e-12).Percent);
    }

    [Test]
    public void TheSimulatorPlansEveryPolicyOnCpuRanksWithIt()
    {
        ModelSpec spec = XProfiler.ModelSpecOf(_config, "tiny");
        WorkloadSpec workload = TraceReader.FromRows("inside", [new QueryLengths(6, 2), new QueryLengths(6, 2)]);
        var ctx = new SimulationContext(spec, ClusterPresets.Get("cpux2"), workload, _profile);
        Schedule[] schedules =
        [
            new(Policy.Static, 2),                                        // FT layout: one TP group of 2
            new(Policy.Rra, 1, DecodeIterations: 1),                      // a pipeline of two tp-1 stages
            new(Policy.Rra, 1, DecodeIterations: 1, TpDegree: 2, TpGroups: 1),
            new(Policy.WaaC, 1),                                          // KV hand-off through host memory
        ];
        foreach (Schedule schedule in schedules)
        {
            SimulationResult r = XSimulator.Simulate(ctx, schedule);
            Assert.That(r.Feasible, Is.True, $"{schedule}: {r.Reason}");
            Assert.That(r.ThroughputSeqPerS, Is.GreaterThan(0), schedule.ToString());
        }
    }
}
