using System.Text.Json;
using ExeGPT.Core.Profiles;
using ExeGPT.Tests.Engine;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Cli;

/// <summary>The kernel developer's loop end to end: <c>exegpt profile --kernel-lib</c> times the example plug-in
/// (its call counter proves the engine ran it), the profile names it, and <c>exegpt schedule --profile</c> plans
/// with that profile.</summary>
[TestFixture]
[NonParallelizable]
public sealed class KernelLibProfileTests
{
    [Test]
    public void AProfileOfThePluginNamesItAndThePlannerUsesIt()
    {
        using var example = ExamplePlugin.Open();
        using var dir = new TempDirectory("kernel-lib-profile");
        string profilePath = Path.Combine(dir.Path, "tiny-example.json");

        ulong before = example.AttentionCalls;
        CliRunner.Succeed(["profile", "--model", "tiny", "--backend", "cpu", "--kernel-lib", example.Path,
            "--out", profilePath, "--batches", "1,2", "--lengths", "16,32", "--repeats", "1", "--threads", "1", "--no-cache"]);
        Assert.That(example.AttentionCalls, Is.GreaterThan(before), "the profiler's steps ran the plug-in's attention");

        ProfileTables profile = ProfileJson.Read(profilePath);
        Assert.That(profile.Metadata.Kind, Is.EqualTo(ProfileKind.Measured));
        Assert.That(profile.Metadata.KernelLibrary, Is.EqualTo("example-simple-attention"));

        // The planner has no "tiny" preset; a config.json in a folder named tiny is the same model to it.
        string model = Path.Combine(dir.Path, "tiny");
        CliRunner.Succeed(["checkpoint", "save", "--model", "tiny", "--out", model]);
        // Queries inside the measured grid: prompts of 20 tokens, contexts up to 20 + 8 <= 32.
        string trace = Path.Combine(dir.Path, "inside.csv");
        File.WriteAllText(trace, "input,output\n20,8\n20,8\n");
        string json = CliRunner.Succeed(["schedule", "--model", model, "--cluster", "cpu", "--task", trace,
            "--profile", profilePath, "--latency", "60s", "--policies", "static", "--max-batch", "2", "--json"]);
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement answer = doc.RootElement;
        Assert.That(answer.GetProperty("satisfiable").GetBoolean(), Is.True, json);
        Assert.That(answer.GetProperty("throughput_seq_per_s").GetDouble(), Is.GreaterThan(0), json);
    }

    [Test]
    public void ALibraryThatIsNotAPluginIsAOneLineError()
    {
        // libexegpt itself: a real shared library, but without exg_kernels_get.
        NativeLibraryLoader.Initialize();
        string engine = NativeLibraryLoader.LoadedPath!;
        string output = Path.Combine(Path.GetTempPath(), $"exegpt-never-{Guid.NewGuid():N}.json");
        CliOutcome outcome = CliRunner.Run(["profile", "--model", "tiny", "--kernel-lib", engine, "--out", output,
            "--batches", "1", "--lengths", "16", "--repeats", "1", "--threads", "1", "--no-cache"]);
        Assert.That(outcome.ExitCode, Is.Not.Zero);
        Assert.That(outcome.Error, Does.StartWith("error: ").And.Contain(engine).And.Contain("exg_kernels_get"));
        Assert.That(outcome.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
        Assert.That(File.Exists(output), Is.False);
    }
}
