using System.Text.Json;
using ExeGPT.Scheduler;
using ExeGPT.Scheduler.Json;
using ExeGPT.Simulator;

namespace ExeGPT.Planning.Tests.Json;

[TestFixture]
public sealed class ResultJsonTests
{
    private static SimulationResult Sample() => new()
    {
        Schedule = new Schedule(Policy.Rra, 16, 8, 2, 1),
        Mode = SimulationMode.Event,
        Feasible = true,
        ThroughputSeqPerS = 12.5,
        ThroughputTokensPerS = 400,
        LatencyS = 3.25,
        EndToEnd = new LatencyStats(1, 0.5, 2, 3),
        Ttft = new LatencyStats(0.1, 0.1, 0.2, 0.25),
        Tpot = new LatencyStats(0.02, 0.02, 0.03, 0.04),
        DecodeBatch = 30.5,
        PeakDecodeBatch = 48,
        EncoderDevices = 0,
        Layout = "2 stages (tp2x1, 1)",
        Devices = [
            new DeviceReport(0, "both", 0, 2, 20, 0.75, 1L << 30, 1L << 20, 3L << 30, 40L << 30),
            new DeviceReport(1, "both", 0, 2, 20, 0.75, 1L << 30, 1L << 20, 3L << 30, 40L << 30),
            new DeviceReport(2, "both", 1, 1, 20, 0.5, 2L << 30, 1L << 20, 6L << 30, 40L << 30),
        ],
        QueriesMeasured = 500,
    };

    [Test]
    public void ResultCarriesEveryMetric()
    {
        using var doc = JsonDocument.Parse(ResultJson.ToJson(Sample()));
        JsonElement r = doc.RootElement;
        Assert.That(r.GetProperty("schedule").GetProperty("policy").GetString(), Is.EqualTo("rra"));
        Assert.That(r.GetProperty("schedule").GetProperty("decode_iterations").GetInt32(), Is.EqualTo(8));
        Assert.That(r.GetProperty("mode").GetString(), Is.EqualTo("event"));
        Assert.That(r.GetProperty("feasible").GetBoolean(), Is.True);
        Assert.That(r.GetProperty("reason").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(r.GetProperty("throughput_seq_per_s").GetDouble(), Is.EqualTo(12.5));
        Assert.That(r.GetProperty("throughput_tokens_per_s").GetDouble(), Is.EqualTo(400));
        Assert.That(r.GetProperty("latency_s").GetDouble(), Is.EqualTo(3.25));
        Assert.That(r.GetProperty("end_to_end").GetProperty("p90").GetDouble(), Is.EqualTo(2));
        Assert.That(r.GetProperty("ttft").GetProperty("p99").GetDouble(), Is.EqualTo(0.25));
        Assert.That(r.GetProperty("tpot").GetProperty("mean").GetDouble(), Is.EqualTo(0.02));
        Assert.That(r.GetProperty("decode_batch").GetDouble(), Is.EqualTo(30.5));
        Assert.That(r.GetProperty("peak_decode_batch").GetDouble(), Is.EqualTo(48));
        Assert.That(r.GetProperty("layout").GetString(), Is.EqualTo("2 stages (tp2x1, 1)"));
        Assert.That(r.GetProperty("queries_measured").GetInt32(), Is.EqualTo(500));
        JsonElement devices = r.GetProperty("devices");
        Assert.That(devices.GetArrayLength(), Is.EqualTo(3));
        JsonElement d2 = devices[2];
        Assert.That(d2.GetProperty("device").GetInt32(), Is.EqualTo(2));
        Assert.That(d2.GetProperty("role").GetString(), Is.EqualTo("both"));
        Assert.That(d2.GetProperty("stage").GetInt32(), Is.EqualTo(1));
        Assert.That(d2.GetProperty("tp_degree").GetInt32(), Is.EqualTo(1));
        Assert.That(d2.GetProperty("layers").GetInt32(), Is.EqualTo(20));
        Assert.That(d2.GetProperty("busy_fraction").GetDouble(), Is.EqualTo(0.5));
        Assert.That(d2.GetProperty("weight_bytes").GetInt64(), Is.EqualTo(2L << 30));
        Assert.That(d2.GetProperty("activation_bytes").GetInt64(), Is.EqualTo(1L << 20));
        Assert.That(d2.GetProperty("kv_cache_bytes").GetInt64(), Is.EqualTo(6L << 30));
        Assert.That(d2.GetProperty("capacity_bytes").GetInt64(), Is.EqualTo(40L << 30));
    }

    [Test]
    public void UnknownNumbersAreNull()
    {
        var r = SimulationResult.Infeasible(new Schedule(Policy.WaaC, 4, TpDegree: 2, TpGroups: 1), SimulationMode.Expected, "layout: no room");
        using var doc = JsonDocument.Parse(ResultJson.ToJson(r));
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("feasible").GetBoolean(), Is.False);
        Assert.That(root.GetProperty("reason").GetString(), Is.EqualTo("layout: no room"));
        Assert.That(root.GetProperty("throughput_seq_per_s").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(root.GetProperty("latency_s").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(root.GetProperty("end_to_end").GetProperty("p99").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(root.GetProperty("devices").GetArrayLength(), Is.Zero);
    }

    [Test]
    public void SatisfiedOutcomeHasTheChosenScheduleSearchesAndFrontier()
    {
        SimulationResult best = Sample();
        var slo = new Slo(SloKind.SlaA, 4.0);
        var frontier = new List<FrontierPoint>
        {
            new(new Schedule(Policy.Rra, 4, 8, 2, 1), 5.0, 1.5),
            new(best.Schedule, 12.5, 3.0),
        };
        var outcome = new ScheduleOutcome(true, best,
            [new SearchReport(Policy.Rra, 2, 1, best, 40, 3.5), new SearchReport(Policy.WaaC, 1, 0, null, 7, 1.25)],
            frontier, 47, 5.5, 1.5, null);
        using var doc = JsonDocument.Parse(ResultJson.ToJson(outcome, slo, indented: true));
        JsonElement o = doc.RootElement;
        Assert.That(o.GetProperty("satisfiable").GetBoolean(), Is.True);
        Assert.That(o.GetProperty("policy").GetString(), Is.EqualTo("rra"));
        Assert.That(ScheduleJson.Parse(o.GetProperty("schedule").GetRawText()), Is.EqualTo(best.Schedule));
        Assert.That(o.GetProperty("throughput_seq_per_s").GetDouble(), Is.EqualTo(12.5));
        Assert.That(o.GetProperty("latency_s").GetDouble(), Is.EqualTo(3.25));
        Assert.That(o.GetProperty("slo_metric").GetDouble(), Is.EqualTo(3.0), "sla-a: p99 end-to-end");
        Assert.That(o.GetProperty("evaluations").GetInt32(), Is.EqualTo(47));
        Assert.That(o.GetProperty("elapsed_ms").GetDouble(), Is.EqualTo(5.5));
        Assert.That(o.GetProperty("tightest_latency").GetDouble(), Is.EqualTo(1.5));
        Assert.That(o.GetProperty("devices").GetArrayLength(), Is.EqualTo(3));
        JsonElement sloJson = o.GetProperty("slo");
        Assert.That(sloJson.GetProperty("kind").GetString(), Is.EqualTo("sla-a"));
        Assert.That(sloJson.GetProperty("latency_s").GetDouble(), Is.EqualTo(4.0));
        Assert.That(sloJson.GetProperty("ttft_s").ValueKind, Is.EqualTo(JsonValueKind.Null), "unbounded");
        Assert.That(sloJson.GetProperty("bound").GetDouble(), Is.EqualTo(4.0));
        JsonElement searches = o.GetProperty("searches");
        Assert.That(searches.GetArrayLength(), Is.EqualTo(2));
        Assert.That(searches[0].GetProperty("tp_degree").GetInt32(), Is.EqualTo(2));
        Assert.That(searches[0].GetProperty("evaluations").GetInt32(), Is.EqualTo(40));
        Assert.That(searches[1].GetProperty("policy").GetString(), Is.EqualTo("waa-c"));
        Assert.That(searches[1].GetProperty("best").ValueKind, Is.EqualTo(JsonValueKind.Null));
        JsonElement f = o.GetProperty("frontier");
        Assert.That(f.GetArrayLength(), Is.EqualTo(2));
        Assert.That(f[0].GetProperty("throughput_seq_per_s").GetDouble(), Is.EqualTo(5.0));
        Assert.That(f[0].GetProperty("slo_metric").GetDouble(), Is.EqualTo(1.5));
        Assert.That(f[0].GetProperty("schedule").GetProperty("encoder_batch").GetInt32(), Is.EqualTo(4));
    }

    [Test]
    public void UnsatisfiableOutcomeSaysSoAndNamesTheTightestLatency()
    {
        var slo = new Slo(SloKind.P99Length, 0.001);
        var outcome = new ScheduleOutcome(false, null, [], [], 12, 2.0, 0.52,
            "no schedule meets p99-length latency <= 0.001 s; the tightest reachable is 0.520 s");
        using var doc = JsonDocument.Parse(ResultJson.ToJson(outcome, slo));
        JsonElement o = doc.RootElement;
        Assert.That(o.GetProperty("satisfiable").GetBoolean(), Is.False);
        Assert.That(o.GetProperty("reason").GetString(), Does.Contain("<= 0.001 s").And.Contain("0.520 s"), "no HTML escaping");
        Assert.That(o.GetProperty("policy").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(o.GetProperty("schedule").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(o.GetProperty("throughput_seq_per_s").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(o.GetProperty("tightest_latency").GetDouble(), Is.EqualTo(0.52));
        Assert.That(o.GetProperty("devices").GetArrayLength(), Is.Zero);
        Assert.That(o.GetProperty("frontier").GetArrayLength(), Is.Zero);
    }

    [Test]
    public void TtftTpotObjectiveHasNoEndToEndBound()
    {
        var slo = new Slo(SloKind.TtftTpot, double.PositiveInfinity, 0.5, 0.05);
        var outcome = new ScheduleOutcome(false, null, [], [], 0, 0, null, "nothing fits");
        using var doc = JsonDocument.Parse(ResultJson.ToJson(outcome, slo));
        JsonElement s = doc.RootElement.GetProperty("slo");
        Assert.That(s.GetProperty("kind").GetString(), Is.EqualTo("ttft-tpot"));
        Assert.That(s.GetProperty("latency_s").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(s.GetProperty("ttft_s").GetDouble(), Is.EqualTo(0.5));
        Assert.That(s.GetProperty("tpot_s").GetDouble(), Is.EqualTo(0.05));
        Assert.That(s.GetProperty("bound").GetDouble(), Is.EqualTo(1.0));
        Assert.That(doc.RootElement.GetProperty("tightest_latency").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }
}
