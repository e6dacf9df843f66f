using System.Text.Json;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Cli;

/// <summary><c>exegpt run</c> end to end on a tiny model: it profiles (into a private cache), schedules, runs the
/// chosen schedule, the other family's best and the static baseline on two CPU ranks, and reports each measured next
/// to its prediction; bad inputs fail with one clear line.</summary>
[TestFixture]
[NonParallelizable] // CliRunner redirects the process's console and this fixture sets EXEGPT_CACHE_DIR
public sealed class RunCommandTests
{
    private TempDirectory _dir = null!;
    private string? _previousCache;
    private string _trace = null!;

    [OneTimeSetUp]
    public void CreateTraceAndCache()
    {
        _dir = new TempDirectory("run-command");
        _previousCache = Environment.GetEnvironmentVariable("EXEGPT_CACHE_DIR");
        Environment.SetEnvironmentVariable("EXEGPT_CACHE_DIR", Path.Combine(_dir.Path, "cache"));
        _trace = Path.Combine(_dir.Path, "trace.csv");
        var random = new Random(5);
        File.WriteAllLines(_trace, ["input_len,output_len", .. Enumerable.Range(0, 64).Select(_ => $"{random.Next(4, 24)},{random.Next(2, 7)}")]);
    }

    [OneTimeTearDown]
    public void Restore()
    {
        Environment.SetEnvironmentVariable("EXEGPT_CACHE_DIR", _previousCache);
        _dir.Dispose();
    }

    [Test]
    public void ReportsMeasuredNextToPredictedForEverySchedule()
    {
        string report = Path.Combine(_dir.Path, "run.json");
        string json = CliRunner.Succeed("run", "--model", "tiny", "--cluster", "cpux2", "--task", _trace, "--queries", "32",
            "--max-batch", "2", "--latency", "inf", "--json", "--out", report);

        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        Assert.That(root.GetProperty("schedule").GetProperty("policy").GetString(), Is.AnyOf("rra", "waa-c", "waa-m"));
        foreach (string part in new[] { "predicted", "measured" })
        {
            Assert.That(root.GetProperty(part).GetProperty("throughput_seq_per_s").GetDouble(), Is.GreaterThan(0), part);
            Assert.That(root.GetProperty(part).GetProperty("latency_p99_s").GetDouble(), Is.GreaterThan(0), part);
        }
        var runs = root.GetProperty("runs").EnumerateArray().ToList();
        Assert.That(runs.Select(r => r.GetProperty("schedule").GetProperty("policy").GetString()), Does.Contain("static"));
        Assert.That(runs, Has.Count.GreaterThanOrEqualTo(2));
        foreach (JsonElement run in runs)
        {
            double predicted = run.GetProperty("predicted").GetProperty("throughput_seq_per_s").GetDouble();
            double measured = run.GetProperty("measured").GetProperty("throughput_seq_per_s").GetDouble();
            double error = run.GetProperty("error_pct").GetProperty("throughput").GetDouble();
            Assert.That(error, Is.EqualTo(100 * (predicted - measured) / measured).Within(1e-9), "error is (predicted - measured) / measured");
        }
        Assert.That(File.ReadAllText(report).Trim(), Is.EqualTo(json.Trim()), "--out writes the same report");

        // The profile is cached: a second run reuses it.
        string again = CliRunner.Succeed("run", "--model", "tiny", "--cluster", "cpux2", "--task", _trace, "--queries", "32",
            "--max-batch", "2", "--latency", "inf", "--json");
        Assert.That(JsonDocument.Parse(again).RootElement.GetProperty("profile_cached").GetBoolean(), Is.True);
    }

    [TestCase("--cluster", "a100x8", "CPU ranks")]
    [TestCase("--policies", "static", "baselines go in --baselines")]
    [TestCase("--task", "nope.csv", "nope.csv")]
    public void BadInputFailsWithOneClearLine(string option, string value, string expected)
    {
        string[] task = option == "--task" ? [] : ["--task", _trace];
        CliOutcome outcome = CliRunner.Run(["run", "--model", "tiny", .. task, option, value]);
        Assert.That(outcome.ExitCode, Is.Not.Zero);
        Assert.That(outcome.Error, Does.Contain(expected));
        Assert.That(outcome.Error, Does.Not.Contain("   at "), "no stack trace");
    }
}
