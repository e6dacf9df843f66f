using System.Globalization;
using System.Text.Json;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Cli;

/// <summary><c>exegpt schedule</c>, <c>simulate</c> and <c>paper</c> on analytic profiles: what they print, their
/// JSON, and a one-line error with exit code 2 for every input they reject.</summary>
[TestFixture]
[NonParallelizable]
public sealed class PlanningCommandTests
{
    // The cheapest of the paper's scenarios (4 A40s, task S), so each command takes milliseconds.
    private static readonly string[] Small = ["--model", "opt-13b", "--cluster", "a40x4", "--task", "S"];

    private static string[] Args(string command, params string[] rest) => [command, .. Small, .. rest];

    private static CliOutcome Rejected(params string[] args)
    {
        CliOutcome outcome = CliRunner.Run(args);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), $"exit code; stderr:\n{outcome.Error}");
        Assert.That(outcome.Out, Is.Empty, "nothing on stdout");
        Assert.That(outcome.Error, Does.StartWith("error: "));
        Assert.That(outcome.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line");
        Assert.That(outcome.Error, Does.Not.Contain(" at ExeGPT").And.Not.Contain("Exception"), "no stack trace");
        return outcome;
    }

    [Test]
    public void ScheduleTextShowsTheScheduleThroughputLatencyAndMemory()
    {
        string text = CliRunner.Succeed(Args("schedule", "--latency", "10s"));
        Assert.That(text, Does.Contain("model opt-13b").And.Contain("a40x4").And.Contain("task S"));
        Assert.That(text, Does.Contain("objective    p99-length latency <= 10 s"));
        Assert.That(text, Does.Match(@"schedule     (rra|waa-c|waa-m): encoder batch B_E=\d+"));
        Assert.That(text, Does.Contain("encoders ").And.Contain("layout "));
        Assert.That(text, Does.Match(@"throughput   [\d.]+ seq/s, [\d.]+ tokens/s"));
        Assert.That(text, Does.Contain("to generate a p99-length output (63 tokens)"));
        Assert.That(text, Does.Contain("end-to-end p50").And.Contain("TTFT p50").And.Contain("TPOT p50"));
        Assert.That(text, Does.Contain("memory per device (GiB):").And.Contain("weights").And.Contain("kv").And.Contain("busy"));
        Assert.That(text, Does.Match(@"search       \d+ evaluations in [\d.]+ ms"));
        Assert.That(text, Does.Not.Contain("frontier"), "only with --frontier");

        string withFrontier = CliRunner.Succeed(Args("schedule", "--latency", "10s", "--frontier"));
        Assert.That(withFrontier, Does.Match(@"frontier \(\d+ points\):"));
    }

    [Test]
    public void ScheduleJsonHasTheChosenScheduleAndItsMetrics()
    {
        using JsonDocument doc = JsonDocument.Parse(CliRunner.Succeed(Args("schedule", "--latency", "10s", "--json")));
        JsonElement o = doc.RootElement;
        Assert.That(o.GetProperty("satisfiable").GetBoolean(), Is.True);
        string policy = o.GetProperty("policy").GetString()!;
        Assert.That(policy, Is.AnyOf("rra", "waa-c", "waa-m"));
        JsonElement schedule = o.GetProperty("schedule");
        Assert.That(schedule.GetProperty("policy").GetString(), Is.EqualTo(policy));
        foreach (string key in (string[])["encoder_batch", "decode_iterations", "tp_degree", "tp_groups", "micro_batches", "devices"])
            Assert.That(schedule.GetProperty(key).ValueKind, Is.EqualTo(JsonValueKind.Number), key);
        Assert.That(o.GetProperty("throughput_seq_per_s").GetDouble(), Is.GreaterThan(0));
        Assert.That(o.GetProperty("throughput_tokens_per_s").GetDouble(), Is.GreaterThan(o.GetProperty("throughput_seq_per_s").GetDouble()));
        Assert.That(o.GetProperty("latency_s").GetDouble(), Is.InRange(0.0, 10.0));
        Assert.That(o.GetProperty("evaluations").GetInt32(), Is.GreaterThan(0));
        Assert.That(o.GetProperty("elapsed_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(o.GetProperty("devices").GetArrayLength(), Is.EqualTo(4), "one entry per A40");
        Assert.That(o.GetProperty("frontier").GetArrayLength(), Is.GreaterThan(0));
        Assert.That(o.GetProperty("slo").GetProperty("latency_s").GetDouble(), Is.EqualTo(10.0));
    }

    [Test]
    public void UnsatisfiableBoundIsAnAnswerNotAnError()
    {
        CliOutcome text = CliRunner.Run(Args("schedule", "--latency", "1ms"));
        Assert.That(text.ExitCode, Is.Zero, text.Error);
        Assert.That(text.Out, Does.Contain("unsatisfiable: no schedule meets p99-length latency <= 0.001 s; the tightest the search reached is"));

        using JsonDocument doc = JsonDocument.Parse(CliRunner.Succeed(Args("schedule", "--latency", "1ms", "--json")));
        JsonElement o = doc.RootElement;
        Assert.That(o.GetProperty("satisfiable").GetBoolean(), Is.False);
        Assert.That(o.GetProperty("schedule").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(o.GetProperty("policy").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(o.GetProperty("tightest_latency").GetDouble(), Is.GreaterThan(0.001));
        Assert.That(o.GetProperty("reason").GetString(), Does.Contain("tightest the search reached"));
    }

    [Test]
    public void OtherObjectivesAndPolicies()
    {
        using JsonDocument doc = JsonDocument.Parse(CliRunner.Succeed(Args("schedule", "--slo", "ttft=2s,tpot=100ms",
            "--policies", "rra,static", "--json")));
        JsonElement o = doc.RootElement;
        Assert.That(o.GetProperty("slo").GetProperty("kind").GetString(), Is.EqualTo("ttft-tpot"));
        Assert.That(o.GetProperty("policy").GetString(), Is.AnyOf("rra", "static"));
        Assert.That(o.GetProperty("slo_metric").GetDouble(), Is.LessThanOrEqualTo(1.0));
        Assert.That(o.GetProperty("searches").EnumerateArray().Select(s => s.GetProperty("policy").GetString()).Distinct(),
            Is.EquivalentTo(new[] { "rra", "static" }));
    }

    [Test]
    public void SimulateReproducesTheScheduledPrediction()
    {
        using var dir = new TempDirectory("plan");
        string file = Path.Combine(dir.Path, "schedule.json");
        string scheduled = CliRunner.Succeed(Args("schedule", "--latency", "10s", "--json"));
        File.WriteAllText(file, scheduled);
        using JsonDocument planned = JsonDocument.Parse(scheduled);

        using JsonDocument simulated = JsonDocument.Parse(CliRunner.Succeed(Args("simulate", "--schedule", file, "--json")));
        JsonElement s = simulated.RootElement;
        Assert.That(s.GetProperty("mode").GetString(), Is.EqualTo("expected"));
        Assert.That(s.GetProperty("schedule").GetRawText(), Is.EqualTo(planned.RootElement.GetProperty("schedule").GetRawText()));
        Assert.That(s.GetProperty("throughput_seq_per_s").GetDouble(), Is.EqualTo(planned.RootElement.GetProperty("throughput_seq_per_s").GetDouble()));
        Assert.That(s.GetProperty("latency_s").GetDouble(), Is.EqualTo(planned.RootElement.GetProperty("latency_s").GetDouble()));
    }

    [Test]
    public void SimulateExpectedAndEventModesAgreeRoughly()
    {
        string[] inline = ["--policy", "rra", "--batch", "32", "--nd", "16", "--tp", "2", "--tp-groups", "2"];
        using JsonDocument expected = JsonDocument.Parse(CliRunner.Succeed(Args("simulate", [.. inline, "--json"])));
        using JsonDocument sampled = JsonDocument.Parse(CliRunner.Succeed(Args("simulate",
            [.. inline, "--mode", "event", "--queries", "800", "--seed", "7", "--json"])));
        JsonElement e = expected.RootElement, v = sampled.RootElement;
        Assert.That(e.GetProperty("mode").GetString(), Is.EqualTo("expected"));
        Assert.That(v.GetProperty("mode").GetString(), Is.EqualTo("event"));
        Assert.That(v.GetProperty("queries_measured").GetInt32(), Is.GreaterThanOrEqualTo(800));
        Assert.That(e.GetProperty("feasible").GetBoolean() && v.GetProperty("feasible").GetBoolean(), Is.True);
        double te = e.GetProperty("throughput_seq_per_s").GetDouble(), tv = v.GetProperty("throughput_seq_per_s").GetDouble();
        Assert.That(tv, Is.EqualTo(te).Within(25).Percent, "sampled queries through the same costs");

        string text = CliRunner.Succeed(Args("simulate", [.. inline, "--mode", "event", "--queries", "200"]));
        Assert.That(text, Does.Contain("mode         event (200 queries, seed 1)"));
        Assert.That(text, Does.Contain("schedule     rra: encoder batch B_E=32, decode iterations N_D=16, TP degree 2 in 2 group(s)"));
    }

    [Test]
    public void PaperOnOneScenarioPrintsTheTableAndSummary()
    {
        using var dir = new TempDirectory("paper");
        string file = Path.Combine(dir.Path, "paper.json");
        string text = CliRunner.Succeed("paper", "--only", "opt-13b@a40x4", "--tasks", "S", "--out", file);
        string[] lines = text.Split('\n');
        Assert.That(lines[0], Does.Match(@"^group\s+model\s+cluster\s+task\s+bound\s+bound_s\s+FT_seq/s\s+FT_B\s+ExeGPT_seq/s\s+latency_s\s+gain\s+policy\s+schedule$"));
        Assert.That(lines.Count(l => l.StartsWith("small-mid  opt-13b  a40x4", StringComparison.Ordinal)), Is.EqualTo(4));
        Assert.That(text, Does.Match(@"average gain: small/mid [\d.]+x \(4 rows\), large - \(0 rows\), overall [\d.]+x"));
        Assert.That(text, Does.Contain("max gain: ").And.Contain("unsatisfiable: ExeGPT 0 of 4 cells").And.Contain("wall time: "));

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(file));
        Assert.That(doc.RootElement.GetProperty("rows").GetArrayLength(), Is.EqualTo(4));
        Assert.That(doc.RootElement.GetProperty("summary").GetProperty("cells").GetInt32(), Is.EqualTo(4));
    }

    [Test]
    public void PaperJsonOnStdout()
    {
        using JsonDocument doc = JsonDocument.Parse(CliRunner.Succeed("paper", "--only", "opt-13b@a40x4", "--tasks", "S,T", "--json"));
        JsonElement rows = doc.RootElement.GetProperty("rows");
        Assert.That(rows.GetArrayLength(), Is.EqualTo(8));
        Assert.That(rows.EnumerateArray().Select(r => r.GetProperty("task").GetString()).Distinct(), Is.EqualTo(new[] { "S", "T" }));
        foreach (JsonElement r in rows.EnumerateArray())
        {
            double gain = r.GetProperty("gain").GetDouble();
            double ratio = r.GetProperty("throughput_seq_per_s").GetDouble() / r.GetProperty("ft_throughput_seq_per_s").GetDouble();
            Assert.That(gain, Is.EqualTo(ratio).Within(1e-9));
        }
    }

    [TestCase("0", "must be positive")]
    [TestCase("-1s", "must be positive")]
    [TestCase("soon", "not a duration")]
    public void BadLatencyIsRejected(string latency, string message)
    {
        CliOutcome outcome = Rejected(Args("schedule", $"--latency={latency}"));
        Assert.That(outcome.Error, Does.Contain("--latency").And.Contain(message));
    }

    [TestCase("--model", "gpt-5", "unknown model 'gpt-5'")]
    [TestCase("--cluster", "a40x12", "unknown cluster 'a40x12'")]
    [TestCase("--task", "Z", "workload 'Z'")]
    public void UnknownNamesAreRejected(string option, string value, string message)
    {
        string[] args = ["schedule", .. Small, "--latency", "5s"];
        args[Array.IndexOf(args, option) + 1] = value;
        Assert.That(Rejected(args).Error, Does.Contain(message));
    }

    [Test]
    public void ScheduleFileWithATpDegreeThatDoesNotDivideTheHeadsIsRejected()
    {
        using var dir = new TempDirectory("plan");
        string file = Path.Combine(dir.Path, "tp3.json");
        File.WriteAllText(file, """{"policy":"rra","encoder_batch":8,"decode_iterations":4,"tp_degree":3,"tp_groups":1}""");
        CliOutcome outcome = Rejected(Args("simulate", "--schedule", file));
        Assert.That(outcome.Error, Does.Contain("tensor-parallel degree 3").And.Contain("40 heads"));
    }

    [Test]
    public void MalformedScheduleFilesAreRejected()
    {
        using var dir = new TempDirectory("plan");
        string broken = Path.Combine(dir.Path, "broken.json");
        File.WriteAllText(broken, """{"policy": "rra", "encoder_batch": """);
        Assert.That(Rejected(Args("simulate", "--schedule", broken)).Error, Does.Contain(broken).And.Contain("not valid JSON"));

        string unknown = Path.Combine(dir.Path, "unknown.json");
        File.WriteAllText(unknown, """{"policy": "rra", "encoder_batch": 8, "nd": 4}""");
        Assert.That(Rejected(Args("simulate", "--schedule", unknown)).Error, Does.Contain("unknown field \"nd\""));

        Assert.That(Rejected(Args("simulate", "--schedule", Path.Combine(dir.Path, "missing.json"))).Error, Does.Contain("not found"));
        Assert.That(Rejected(Args("simulate")).Error, Does.Contain("--schedule").And.Contain("--policy"));
        Assert.That(Rejected(Args("simulate", "--schedule", unknown, "--batch", "4")).Error, Does.Contain("cannot be combined"));
    }

    [Test]
    public void EmptyTraceFileIsRejected()
    {
        using var dir = new TempDirectory("plan");
        string trace = Path.Combine(dir.Path, "empty.csv");
        File.WriteAllText(trace, "");
        string[] args = ["schedule", "--model", "opt-13b", "--cluster", "a40x4", "--task", trace, "--latency", "5s"];
        Assert.That(Rejected(args).Error, Does.Contain(trace).And.Contain("no rows"));
    }

    [Test]
    public void TraceWorkloadIsScheduled()
    {
        using var dir = new TempDirectory("plan");
        string trace = Path.Combine(dir.Path, "trace.csv");
        var rows = new List<string> { "input_len,output_len" };
        for (int i = 0; i < 200; i++)
            rows.Add(string.Create(CultureInfo.InvariantCulture, $"{64 + (i * 37) % 400},{8 + (i * 13) % 90}"));
        File.WriteAllLines(trace, rows);
        string text = CliRunner.Succeed("schedule", "--model", "opt-13b", "--cluster", "a40x4", "--task", trace, "--latency", "inf");
        Assert.That(text, Does.Contain("task trace.csv").And.Contain("throughput"));
        Assert.That(Rejected("schedule", "--model", "opt-13b", "--cluster", "a40x4", "--task", trace, "--latency", "5s",
            "--correlation", "0.5").Error, Does.Contain("--correlation"));
    }

    [Test]
    public void ProfileForAnotherModelIsRejected()
    {
        using var dir = new TempDirectory("plan");
        string profile = Path.Combine(dir.Path, "profile.json");
        var other = Core.Profiles.AnalyticProfile.Build(Core.Models.ModelPresets.Get("opt-6.7b"), Core.Clusters.ClusterPresets.Get("a40x4"));
        Core.Profiles.ProfileJson.Write(other, profile);
        Assert.That(Rejected(Args("schedule", "--latency", "5s", "--profile", profile)).Error,
            Does.Contain("does not fit model 'opt-13b'"));
    }

    [Test]
    public void PaperSelectionErrors()
    {
        Assert.That(Rejected("paper", "--only", "gpt3-39b@a100x16").Error, Does.Contain("gpt3-39b@a100x16").And.Contain("opt-13b@a40x4"));
        Assert.That(Rejected("paper", "--only", "opt-13b@a40x4", "--tasks", "G").Error, Does.Contain("no scenario"));
        Assert.That(Rejected("paper", "--tasks", "Q").Error, Does.Contain("unknown task 'Q'"));
    }
}
