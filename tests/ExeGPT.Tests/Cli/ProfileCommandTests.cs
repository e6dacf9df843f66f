namespace ExeGPT.Tests.Cli;

/// <summary><c>exegpt profile</c>: writes a measured profile; bad options are one-line errors.</summary>
[TestFixture]
public sealed class ProfileCommandTests
{
    [Test]
    public void WritesAProfileThePlannerReads()
    {
        string path = Path.Combine(Path.GetTempPath(), $"exegpt-cli-profile-{Guid.NewGuid():N}.json");
        try
        {
            CliOutcome outcome = CliRunner.Run(["profile", "--model", "tiny", "--batches", "1,2", "--lengths", "4,8",
                "--repeats", "1", "--threads", "1", "--out", path]);
            Assert.That(outcome.ExitCode, Is.Zero, outcome.Error);
            var profile = Core.Profiles.ProfileJson.Read(path);
            Assert.That(profile.Metadata.Kind, Is.EqualTo(Core.Profiles.ProfileKind.Measured));
            Assert.That(profile.Metadata.Backend, Is.EqualTo("cpu"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCase("--backend", "cuda", "cannot be profiled yet")]
    [TestCase("--batches", "4,2", "must increase")]
    [TestCase("--lengths", "8,x", "not a comma-separated list")]
    public void BadOptionsAreOneLineErrors(string option, string value, string message)
    {
        CliOutcome outcome = CliRunner.Run(["profile", "--model", "tiny", "--out", "/tmp/never.json", option, value]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.StartWith("error: ").And.Contain(message));
        Assert.That(File.Exists("/tmp/never.json"), Is.False);
    }
}
