using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Runtime;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Cli;

/// <summary>
/// Acceptance: <c>exegpt generate</c> on a Hugging Face OPT directory follows HF OPT semantics, i.e. its
/// greedy ids and dumped logits equal the independent reference's on the same stored weights.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CliGenerateTests
{
    private const string PromptText = "2,5,7;2,9";
    private const int NewTokens = 4;
    private static readonly int[][] Prompts = [[2, 5, 7], [2, 9]];
    /// <summary>The eos_token_id every test checkpoint's config.json declares (OPT's "&lt;/s&gt;"); like HF
    /// generate, the CLI stops there unless told otherwise, so the reference does too.</summary>
    private const int CheckpointEos = 2;

    public static IEnumerable<TestCaseData> Checkpoints()
    {
        yield return new TestCaseData(new OptSpec(), CheckpointDtype.F32).SetArgDisplayNames("pre-LN relu F32");
        yield return new TestCaseData(new OptSpec { PreLayerNorm = false, WordEmbedProjDim = 16, Activation = "gelu" }, CheckpointDtype.F32)
            .SetArgDisplayNames("post-LN projected gelu F32");
        yield return new TestCaseData(new OptSpec(), CheckpointDtype.F16).SetArgDisplayNames("pre-LN relu F16");
    }

    [TestCaseSource(nameof(Checkpoints))]
    public void DumpedIdsAndLogitsMatchReference(OptSpec spec, CheckpointDtype dtype)
    {
        using var checkpoint = TinyOptCheckpoint.Create(spec, dtype, seed: 61);
        using var output = new TempDirectory("cli-dump");
        string dump = Path.Combine(output.Path, "out.json");

        string stdout = CliRunner.Succeed("generate", "--model", checkpoint.Directory, "--prompt-tokens", PromptText,
            "--greedy", "--max-new-tokens", $"{NewTokens}", "--dump-logits", dump, "--threads", "1");

        var cases = GenerationDump.Parse(File.ReadAllText(dump), expectLogits: true);
        Assert.That(cases, Has.Length.EqualTo(Prompts.Length));
        var reference = checkpoint.Reference();
        var expectedText = new List<string>();
        for (int i = 0; i < Prompts.Length; i++)
        {
            var expected = GreedyReference.Generate(reference, Prompts[i], NewTokens, CheckpointEos);
            Assert.That(cases[i].Prompt, Is.EqualTo(Prompts[i]), $"case {i} prompt");
            Assert.That(cases[i].Logits!.Select(row => row.Length), Is.All.EqualTo(spec.VocabSize), $"case {i}: one vocabulary row per token");
            GenerationAssert.Matches(cases[i].Generated, cases[i].Logits, expected, $"case {i}");
            expectedText.Add($"prompt: {string.Join(',', Prompts[i])}");
            expectedText.Add($"generated: {string.Join(',', expected.Tokens)}");
        }

        Assert.That(Lines(stdout), Is.EqualTo(expectedText), "text output");
    }

    [Test]
    public void JsonOutputMatchesReference()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 62);
        string stdout = CliRunner.Succeed("generate", "--model", checkpoint.Directory, "--prompt-tokens", PromptText,
            "--greedy", "--max-new-tokens", $"{NewTokens}", "--json", "--threads", "1");
        AssertIdsMatchReference(GenerationDump.Parse(stdout, expectLogits: false), checkpoint);
    }

    [Test]
    public void ShardedRunGivesTheSameIds()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 63);
        string stdout = CliRunner.Succeed("generate", "--model", checkpoint.Directory, "--prompt-tokens", PromptText,
            "--greedy", "--max-new-tokens", $"{NewTokens}", "--json", "--tp", "2", "--stages", "2", "--threads", "2");
        AssertIdsMatchReference(GenerationDump.Parse(stdout, expectLogits: false), checkpoint);
    }

    [Test]
    public void EosTokenIdStopsTheSequence()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 64);
        var reference = checkpoint.Reference();
        int eos = GreedyReference.Generate(reference, Prompts[0], NewTokens).Tokens[1];

        string stdout = CliRunner.Succeed("generate", "--model", checkpoint.Directory, "--prompt-tokens", PromptText,
            "--greedy", "--max-new-tokens", $"{NewTokens}", "--json", "--eos-token-id", $"{eos}", "--threads", "1");
        var cases = GenerationDump.Parse(stdout, expectLogits: false);
        for (int i = 0; i < Prompts.Length; i++)
        {
            var expected = GreedyReference.Generate(reference, Prompts[i], NewTokens, eos);
            Assert.That(cases[i].Generated, Is.EqualTo(expected.Tokens), $"case {i}");
        }

        Assert.That(cases[0].Generated, Has.Length.LessThanOrEqualTo(2), "the EOS picked from case 0 must end it early");
    }

    [Test]
    public void CheckpointEosStopsByDefaultAndIgnoreEosRunsOn()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 65);
        var reference = checkpoint.Reference();
        var full = GreedyReference.Generate(reference, Prompts[0], NewTokens);
        int eos = full.Tokens[1];
        // generation_config.json outranks config.json, as in Hugging Face.
        File.WriteAllText(Path.Combine(checkpoint.Directory, "generation_config.json"), $"{{\"eos_token_id\": [{eos}, 1]}}");
        string[] common = ["generate", "--model", checkpoint.Directory, "--prompt-tokens", PromptText, "--greedy",
            "--max-new-tokens", $"{NewTokens}", "--json", "--threads", "1"];

        var stopped = GenerationDump.Parse(CliRunner.Succeed(common), expectLogits: false);
        for (int i = 0; i < Prompts.Length; i++)
            Assert.That(stopped[i].Generated, Is.EqualTo(GreedyReference.Generate(reference, Prompts[i], NewTokens, eos).Tokens), $"case {i}");
        Assert.That(stopped[0].Generated, Has.Length.LessThanOrEqualTo(2), "case 0 emits the EOS as its 1st or 2nd token");

        var ignored = GenerationDump.Parse(CliRunner.Succeed([.. common, "--ignore-eos"]), expectLogits: false);
        Assert.That(ignored[0].Generated, Is.EqualTo(full.Tokens), "--ignore-eos generates every requested token");
    }

    private static void AssertIdsMatchReference(DumpedCase[] cases, TinyOptCheckpoint checkpoint)
    {
        var reference = checkpoint.Reference();
        Assert.That(cases.Select(c => c.Prompt), Is.EqualTo(Prompts));
        for (int i = 0; i < Prompts.Length; i++)
        {
            GenerationAssert.Matches(cases[i].Generated, null, GreedyReference.Generate(reference, Prompts[i], NewTokens, CheckpointEos), $"case {i}");
        }
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
