using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Runtime;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Cli;

/// <summary><c>exegpt presets</c> and <c>exegpt checkpoint save</c>.</summary>
[TestFixture]
[NonParallelizable]
public sealed class CliPresetsAndCheckpointTests
{
    private const string PromptText = "2,5,7;2,9";

    [Test]
    public void PresetsListsTheOptShapes()
    {
        var rows = CliRunner.Succeed("presets")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToArray();
        Assert.That(rows[0][0], Is.EqualTo("name"), "header row");
        Assert.That(rows.Skip(1).Select(r => r[0]), Is.EqualTo(ModelConfigs.PresetNames), "one row per preset, in order");

        // The published Hugging Face configs: facebook/opt-125m and facebook/opt-350m.
        Assert.That(rows.Single(r => r[0] == "opt-125m"),
            Is.EqualTo(new[] { "opt-125m", "12", "768", "12", "3072", "768", "50272", "2048", "relu", "pre-LN" }));
        Assert.That(rows.Single(r => r[0] == "opt-350m"),
            Is.EqualTo(new[] { "opt-350m", "24", "1024", "16", "4096", "512", "50272", "2048", "relu", "post-LN" }));
    }

    [Test]
    public void SavedPresetGeneratesLikeThePreset()
    {
        using var saved = new TempDirectory("cli-saved");
        CliRunner.Succeed("checkpoint", "save", "--model", "tiny", "--seed", "3", "--out", saved.Path, "--threads", "1");

        string[] common = ["--prompt-tokens", PromptText, "--greedy", "--max-new-tokens", "5", "--json", "--threads", "1"];
        var fromPreset = GenerationDump.Parse(CliRunner.Succeed(["generate", "--model", "tiny", "--seed", "3", .. common]), expectLogits: false);
        // The saved config declares OPT's eos_token_id, a preset none: compare without stopping.
        var fromCheckpoint = GenerationDump.Parse(CliRunner.Succeed(["generate", "--model", saved.Path, "--ignore-eos", .. common]), expectLogits: false);
        Assert.That(fromCheckpoint.Select(c => c.Generated), Is.EqualTo(fromPreset.Select(c => c.Generated)));

        // A different seed is a different model, so the comparison above is not vacuous.
        var otherSeed = GenerationDump.Parse(CliRunner.Succeed(["generate", "--model", "tiny", "--seed", "4", .. common]), expectLogits: false);
        Assert.That(otherSeed.Select(c => c.Generated), Is.Not.EqualTo(fromPreset.Select(c => c.Generated)));
    }

    [Test]
    public void SavedPresetIsAnHfOptCheckpointTheReferenceAgreesWith()
    {
        using var saved = new TempDirectory("cli-saved-ref");
        using var output = new TempDirectory("cli-saved-dump");
        CliRunner.Succeed("checkpoint", "save", "--model", "tiny", "--seed", "3", "--out", saved.Path, "--threads", "1");
        string dump = Path.Combine(output.Path, "preset.json");
        CliRunner.Succeed("generate", "--model", "tiny", "--seed", "3", "--prompt-tokens", PromptText, "--greedy",
            "--max-new-tokens", "4", "--dump-logits", dump, "--json", "--threads", "1");

        // The files are read by the test's own config and safetensors readers, not the engine's.
        var spec = OptConfigJson.Read(saved.Path);
        var weights = SafetensorsReader.ReadDirectory(saved.Path).ToDictionary(t => t.Key, t => t.Value.Tensor);
        var reference = new OptReference(spec, weights);
        var cases = GenerationDump.Parse(File.ReadAllText(dump), expectLogits: true);
        for (int i = 0; i < cases.Length; i++)
        {
            GenerationAssert.Matches(cases[i].Generated, cases[i].Logits, GreedyReference.Generate(reference, cases[i].Prompt, 4), $"case {i}");
        }
    }
}
