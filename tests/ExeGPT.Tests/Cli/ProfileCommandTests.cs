using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Cli;

/// <summary><c>exegpt profile</c>: writes a measured profile (with its roofline summary), reuses the cache, and
/// bad options are one-line errors.</summary>
[TestFixture]
[NonParallelizable] // CliRunner redirects the process's console; one test sets EXEGPT_CACHE_DIR
public sealed class ProfileCommandTests
{
    [Test]
    public void WritesAProfileThePlannerReads()
    {
        string path = Path.Combine(Path.GetTempPath(), $"exegpt-cli-profile-{Guid.NewGuid():N}.json");
        try
        {
            CliOutcome outcome = CliRunner.Run(["profile", "--model", "tiny", "--batches", "1,2", "--lengths", "4,8",
                "--repeats", "1", "--threads", "1", "--tp", "1,2", "--no-cache", "--out", path]);
            Assert.That(outcome.ExitCode, Is.Zero, outcome.Error);
            var profile = Core.Profiles.ProfileJson.Read(path);
            Assert.That(profile.Metadata.Kind, Is.EqualTo(Core.Profiles.ProfileKind.Measured));
            Assert.That(profile.Metadata.Backend, Is.EqualTo("cpu"));
            Assert.That(profile.TensorParallelDegrees, Is.EqualTo(new[] { 1, 2 }));
            Assert.That(profile.Metadata.Device, Does.Contain("2 rank(s)"), "--ranks defaults to the largest degree");
            Assert.That(outcome.Out, Does.Contain("roofline: cpu 1/2").And.Contain("decoder.attention"), "the summary on stdout");
            // stderr is not a terminal here: progress comes as plain lines, never a redrawn bar.
            Assert.That(outcome.Error, Does.Contain("profiling: ").And.Not.Contain("\r"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ASecondRunUsesTheCache()
    {
        using var cache = new TempDirectory("cli-profile-cache");
        using var output = new TempDirectory("cli-profile-out");
        string? previous = Environment.GetEnvironmentVariable("EXEGPT_CACHE_DIR");
        Environment.SetEnvironmentVariable("EXEGPT_CACHE_DIR", cache.Path);
        try
        {
            string[] args = ["profile", "--model", "tiny", "--batches", "1", "--lengths", "4", "--repeats", "1", "--threads", "1"];
            CliOutcome first = CliRunner.Run([.. args, "--out", Path.Combine(output.Path, "a.json")]);
            Assert.That(first.ExitCode, Is.Zero, first.Error);
            Assert.That(Directory.GetFiles(cache.Path, "*.json"), Has.Length.EqualTo(1));

            CliOutcome second = CliRunner.Run([.. args, "--out", Path.Combine(output.Path, "b.json")]);
            Assert.That(second.ExitCode, Is.Zero, second.Error);
            Assert.That(second.Error, Does.Contain("using the cached profile").And.Not.Contain("profiling: "));
            Assert.That(File.ReadAllText(Path.Combine(output.Path, "b.json")), Is.EqualTo(File.ReadAllText(Path.Combine(output.Path, "a.json"))));
        }
        finally
        {
            Environment.SetEnvironmentVariable("EXEGPT_CACHE_DIR", previous);
        }
    }

    [TestCase("--backend", "tpu", "'tpu' is not a backend")]
    [TestCase("--batches", "4,2", "must increase")]
    [TestCase("--lengths", "8,x", "not a comma-separated list")]
    [TestCase("--tp", "1,x", "--tp: '1,x' is not a comma-separated list")]
    [TestCase("--tp", "3", "tensor-parallel degree 3 does not divide model 'tiny''s 4 heads")]
    [TestCase("--kernel-lib", "/nonexistent/libmykernels.so", "--kernel-lib: '/nonexistent/libmykernels.so' does not exist")]
    public void BadOptionsAreOneLineErrors(string option, string value, string message)
    {
        // A grid tiny's 128 positions hold, so only the option under test is wrong.
        var options = new Dictionary<string, string> { ["--batches"] = "1", ["--lengths"] = "4", [option] = value };
        CliOutcome outcome = CliRunner.Run(["profile", "--model", "tiny", "--out", "/tmp/never.json", "--no-cache",
            .. options.SelectMany(o => new[] { o.Key, o.Value })]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.StartWith("error: ").And.Contain(message));
        Assert.That(outcome.Error.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), "one line");
        Assert.That(File.Exists("/tmp/never.json"), Is.False);
    }

    [Test]
    public void RanksThatADegreeDoesNotDivideAreRefused()
    {
        CliOutcome outcome = CliRunner.Run(["profile", "--model", "tiny", "--out", "/tmp/never.json", "--no-cache",
            "--batches", "1", "--lengths", "4", "--tp", "2", "--ranks", "3"]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("tensor-parallel degree 2 does not divide the 3 rank(s)"));
    }
}
