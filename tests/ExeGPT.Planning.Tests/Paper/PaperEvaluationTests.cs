using System.Text.Json;
using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;
using ExeGPT.Scheduler;
using ExeGPT.Scheduler.Paper;
using ExeGPT.Simulator;

namespace ExeGPT.Planning.Tests.Paper;

[TestFixture]
public sealed class PaperEvaluationTests
{
    // The cheapest of the paper's scenarios: 4 A40s, one node.
    private static readonly PaperScenario Small = new(PaperGroup.SmallMid, "opt-13b", "a40x4", ["S"]);

    private static PaperReport? _report;

    private static PaperReport Report => _report ??= PaperEvaluation.Run([Small]);

    private static SimulationContext Context(string task = "S")
    {
        ModelSpec model = ModelPresets.Get("opt-13b");
        ClusterSpec cluster = ClusterPresets.Get("a40x4");
        return new SimulationContext(model, cluster, TaskPresets.Get(task), AnalyticProfile.Build(model, cluster));
    }

    [Test]
    public void BottomPercentileIsTheNearestRank()
    {
        double[] ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
        Assert.That(PaperEvaluation.BottomPercentile(ten, 0.1), Is.EqualTo(1));
        Assert.That(PaperEvaluation.BottomPercentile(ten, 0.3), Is.EqualTo(3));
        Assert.That(PaperEvaluation.BottomPercentile(ten, 0.7), Is.EqualTo(7));
        Assert.That(PaperEvaluation.BottomPercentile(ten, 1.0), Is.EqualTo(10));
        // n = 4: ranks ceil(0.4) = 1, ceil(1.2) = 2, ceil(2.8) = 3.
        double[] four = [4.5, 0.5, 2.5, 1.5];
        Assert.That(PaperEvaluation.BottomPercentile(four, 0.1), Is.EqualTo(0.5));
        Assert.That(PaperEvaluation.BottomPercentile(four, 0.3), Is.EqualTo(1.5));
        Assert.That(PaperEvaluation.BottomPercentile(four, 0.7), Is.EqualTo(2.5));
        Assert.That(PaperEvaluation.BottomPercentile([3.0], 0.1), Is.EqualTo(3.0));
        Assert.Throws<ArgumentException>(() => PaperEvaluation.BottomPercentile([], 0.1));
        Assert.Throws<ArgumentException>(() => PaperEvaluation.BottomPercentile([1.0], 0));
    }

    [Test]
    public void BoundLabels()
    {
        Assert.That(PaperEvaluation.BoundLabel(0.1), Is.EqualTo("p10"));
        Assert.That(PaperEvaluation.BoundLabel(0.7), Is.EqualTo("p70"));
        Assert.That(PaperEvaluation.BoundLabel(0.125), Is.EqualTo("p12.5"));
    }

    [Test]
    public void DefaultScenariosAreThePapers()
    {
        string[] smallMid = ["t5-11b@a40x8", "opt-13b@a40x4", "gpt3-39b@a40x16", "gpt3-101b@a100x16"];
        string[] large = ["gpt3-101b@a100x16", "gpt3-175b@a100x16", "gpt3-175b@a40x32", "gpt3-341b@a40x48"];
        Assert.That(PaperScenario.SmallMid.Select(s => s.Name), Is.EqualTo(smallMid));
        Assert.That(PaperScenario.Large.Select(s => s.Name), Is.EqualTo(large));
        Assert.That(PaperScenario.SmallMid.Select(s => string.Join(",", s.Tasks)), Is.All.EqualTo("S,T,C1"));
        Assert.That(PaperScenario.Large.Select(s => string.Join(",", s.Tasks)), Is.All.EqualTo("G,C1,C2"));
        Assert.That(PaperScenario.All, Has.Count.EqualTo(8));
    }

    [Test]
    public void StaticSweepStepsByFourUntilMemoryRunsOut()
    {
        SimulationContext ctx = Context();
        IReadOnlyList<BaselinePoint> sweep = PaperEvaluation.StaticSweep(ctx);
        Assert.That(sweep, Has.Count.GreaterThan(2));
        int[] expected = [1, .. Enumerable.Range(1, sweep.Count - 1).Select(i => 4 * i)];
        Assert.That(sweep.Select(p => p.Batch), Is.EqualTo(expected));
        int next = sweep[^1].Batch + 4;
        if (next <= 1024)
            Assert.That(XSimulator.Simulate(ctx, new Schedule(Policy.Static, next)).Feasible, Is.False,
                "the sweep stops at the largest batch that fits");
        var capped = PaperEvaluation.StaticSweep(ctx, step: 4, cap: 9);
        Assert.That(capped.Select(p => p.Batch), Is.EqualTo(new[] { 1, 4, 8 }));
    }

    [Test]
    public void BoundsComeFromTheFtSweepAndFtTakesItsBestBatchUnderEach()
    {
        PaperReport report = Report;
        IReadOnlyList<BaselinePoint> sweep = report.Baselines["opt-13b@a40x4 S"];
        double[] sorted = [.. sweep.Select(p => p.LatencyS).Order()];
        int n = sorted.Length;
        // Nearest rank by hand: the ceil(f n)-th smallest.
        double[] expectedBounds = [sorted[(int)Math.Ceiling(0.1 * n) - 1], sorted[(int)Math.Ceiling(0.3 * n) - 1],
            sorted[(int)Math.Ceiling(0.7 * n) - 1], double.PositiveInfinity];

        Assert.That(report.Rows.Select(r => r.Bound), Is.EqualTo(new[] { "p10", "p30", "p70", "inf" }));
        Assert.That(report.Rows.Select(r => r.BoundS), Is.EqualTo(expectedBounds));
        foreach (PaperRow row in report.Rows)
        {
            BaselinePoint best = sweep.Where(p => p.LatencyS <= row.BoundS).MaxBy(p => p.ThroughputSeqPerS)!;
            Assert.That(row.FtBatch, Is.EqualTo(best.Batch), row.Cell);
            Assert.That(row.FtThroughput, Is.EqualTo(best.ThroughputSeqPerS), row.Cell);
            Assert.That(row.FtLatencyS, Is.LessThanOrEqualTo(row.BoundS), row.Cell);
            Assert.That(row.Group, Is.EqualTo(PaperGroup.SmallMid));
            Assert.That((row.Model, row.Cluster, row.Task), Is.EqualTo(("opt-13b", "a40x4", "S")));
        }
    }

    [Test]
    public void ExeGptIsTheSchedulersAnswerUnderTheSameBound()
    {
        foreach (PaperRow row in Report.Rows)
        {
            Assert.That(row.Schedule, Is.Not.Null, $"{row.Cell}: {row.Reason}");
            Assert.That(row.LatencyS, Is.LessThanOrEqualTo(row.BoundS), row.Cell);
            Assert.That(row.Gain, Is.EqualTo(row.Throughput!.Value / row.FtThroughput!.Value).Within(1e-12), row.Cell);
            Assert.That(row.Policy, Is.AnyOf("rra", "waa-c", "waa-m"), row.Cell);
        }
        PaperRow p30 = Report.Rows[1];
        ScheduleOutcome direct = XScheduler.Schedule(new ScheduleRequest(Context(), new Slo(SloKind.P99Length, p30.BoundS)));
        Assert.That(p30.Schedule, Is.EqualTo(direct.Best!.Schedule));
        Assert.That(p30.Throughput, Is.EqualTo(direct.Best.ThroughputSeqPerS));
        Assert.That(p30.Evaluations, Is.EqualTo(direct.Evaluations));
    }

    [Test]
    public void SummaryAveragesTheGains()
    {
        PaperSummary m = Report.Summary;
        double[] gains = [.. Report.Rows.Select(r => r.Gain!.Value)];
        Assert.That(m.AverageGainSmallMid, Is.EqualTo(gains.Sum() / 4).Within(1e-12));
        Assert.That(m.AverageGainLarge, Is.Null, "no large scenario ran");
        Assert.That(m.AverageGainOverall, Is.EqualTo(gains.Sum() / 4).Within(1e-12));
        Assert.That(m.MaxGain, Is.EqualTo(gains.Max()));
        Assert.That(m.MaxGainCell, Does.StartWith("opt-13b@a40x4 S "));
        Assert.That((m.Cells, m.GainCells, m.UnsatisfiableExeGpt, m.UnsatisfiableFt), Is.EqualTo((4, 4, 0, 0)));
        Assert.That(m.WallSeconds, Is.GreaterThan(0));
        Assert.That(m.Threads, Is.EqualTo(1), "one cell");
    }

    [Test]
    public void ACellInBothGroupsIsEvaluatedOnceAndCountedOnceOverall()
    {
        PaperReport report = PaperEvaluation.Run(
            [Small, Small with { Group = PaperGroup.Large }],
            new PaperOptions(BoundFractions: [0.5], MaxParallelism: 2));
        Assert.That(report.Rows, Has.Count.EqualTo(4), "2 groups x (p50 + inf)");
        Assert.That(report.Rows.Select(r => r.Bound), Is.EqualTo(new[] { "p50", "inf", "p50", "inf" }));
        Assert.That(report.Rows[2] with { Group = PaperGroup.SmallMid }, Is.EqualTo(report.Rows[0]));
        double[] gains = [report.Rows[0].Gain!.Value, report.Rows[1].Gain!.Value];
        PaperSummary m = report.Summary;
        Assert.That(m.Cells, Is.EqualTo(2));
        Assert.That(m.AverageGainSmallMid, Is.EqualTo(gains.Average()).Within(1e-12));
        Assert.That(m.AverageGainLarge, Is.EqualTo(gains.Average()).Within(1e-12));
        Assert.That(m.AverageGainOverall, Is.EqualTo(gains.Average()).Within(1e-12));
    }

    [Test]
    public void JsonHasScenariosRowsBaselinesAndSummary()
    {
        using var doc = JsonDocument.Parse(PaperJson.ToJson(Report));
        JsonElement root = doc.RootElement;
        JsonElement scenario = root.GetProperty("scenarios")[0];
        Assert.That(scenario.GetProperty("group").GetString(), Is.EqualTo("small-mid"));
        Assert.That(scenario.GetProperty("model").GetString(), Is.EqualTo("opt-13b"));
        Assert.That(scenario.GetProperty("cluster").GetString(), Is.EqualTo("a40x4"));
        Assert.That(scenario.GetProperty("tasks")[0].GetString(), Is.EqualTo("S"));

        JsonElement rows = root.GetProperty("rows");
        Assert.That(rows.GetArrayLength(), Is.EqualTo(4));
        for (int i = 0; i < 4; i++)
        {
            PaperRow expected = Report.Rows[i];
            JsonElement r = rows[i];
            Assert.That(r.GetProperty("task").GetString(), Is.EqualTo("S"));
            Assert.That(r.GetProperty("bound").GetString(), Is.EqualTo(expected.Bound));
            Assert.That(r.GetProperty("ft_batch").GetInt32(), Is.EqualTo(expected.FtBatch));
            Assert.That(r.GetProperty("ft_throughput_seq_per_s").GetDouble(), Is.EqualTo(expected.FtThroughput));
            Assert.That(r.GetProperty("throughput_seq_per_s").GetDouble(), Is.EqualTo(expected.Throughput));
            Assert.That(r.GetProperty("gain").GetDouble(), Is.EqualTo(expected.Gain));
            Assert.That(r.GetProperty("satisfiable").GetBoolean(), Is.True);
            Assert.That(r.GetProperty("policy").GetString(), Is.EqualTo(expected.Policy));
            Assert.That(r.GetProperty("schedule").GetProperty("encoder_batch").GetInt32(), Is.EqualTo(expected.Schedule!.EncoderBatch));
        }
        Assert.That(rows[0].GetProperty("bound_s").GetDouble(), Is.EqualTo(Report.Rows[0].BoundS));
        Assert.That(rows[3].GetProperty("bound_s").ValueKind, Is.EqualTo(JsonValueKind.Null), "inf");

        JsonElement sweep = root.GetProperty("baselines").GetProperty("opt-13b@a40x4 S");
        Assert.That(sweep.GetArrayLength(), Is.EqualTo(Report.Baselines["opt-13b@a40x4 S"].Count));
        Assert.That(sweep[1].GetProperty("batch").GetInt32(), Is.EqualTo(4));

        JsonElement summary = root.GetProperty("summary");
        foreach (string key in (string[])["average_gain_small_mid", "average_gain_overall", "max_gain", "wall_s"])
            Assert.That(summary.GetProperty(key).GetDouble(), Is.GreaterThan(0), key);
        Assert.That(summary.GetProperty("average_gain_large").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(summary.GetProperty("cells").GetInt32(), Is.EqualTo(4));
        Assert.That(summary.GetProperty("unsatisfiable_exegpt").GetInt32(), Is.Zero);
        Assert.That(summary.GetProperty("unsatisfiable_ft").GetInt32(), Is.Zero);
        Assert.That(summary.GetProperty("max_gain_cell").GetString(), Does.StartWith("opt-13b@a40x4 S"));
    }

    [Test]
    public void BadScenariosAndOptionsNameTheProblem()
    {
        var e = Assert.Throws<SpecException>(() => PaperEvaluation.Run([Small with { Model = "gpt9" }]))!;
        Assert.That(e.Message, Does.Contain("gpt9"));
        e = Assert.Throws<SpecException>(() => PaperEvaluation.Run([Small with { Tasks = ["X9"] }]))!;
        Assert.That(e.Message, Does.Contain("X9"));
        e = Assert.Throws<SpecException>(() => PaperEvaluation.Run([Small with { Tasks = [] }]))!;
        Assert.That(e.Message, Does.Contain("no tasks"));
        e = Assert.Throws<SpecException>(() => PaperEvaluation.Run([Small], new PaperOptions(BoundFractions: [1.5])))!;
        Assert.That(e.Message, Does.Contain("1.5"));
        e = Assert.Throws<SpecException>(() => PaperEvaluation.Run([Small], new PaperOptions(MaxParallelism: 0)))!;
        Assert.That(e.Message, Does.Contain("parallelism"));
    }
}
