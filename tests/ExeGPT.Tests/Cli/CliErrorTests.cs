namespace ExeGPT.Tests.Cli;

/// <summary>Mistakes a user can make end in one "error:" line on stderr and a non-zero exit code, never a stack trace.</summary>
[TestFixture]
[NonParallelizable]
public sealed class CliErrorTests
{
    private static CliOutcome Fails(int exitCode, params string[] args)
    {
        var outcome = CliRunner.Run(args);
        Assert.That(outcome.ExitCode, Is.EqualTo(exitCode), $"exit code; stderr:\n{outcome.Error}");
        if (exitCode == 2)
        {
            // Rejected requests print no results; parse errors (exit 1) may show the usage there.
            Assert.That(outcome.Out, Is.Empty, "nothing on stdout");
        }

        Assert.That(outcome.Error, Does.Not.Contain(" at ExeGPT").And.Not.Contain("Exception"), "no stack trace");
        return outcome;
    }

    [Test]
    public void UnknownModelListsThePresets()
    {
        var outcome = Fails(2, "generate", "--model", "no-such-model", "--prompt-tokens", "2,5", "--greedy");
        Assert.That(outcome.Error, Does.StartWith("error: "));
        Assert.That(outcome.Error, Does.Contain("no-such-model").And.Contain("opt-125m").And.Contain("tiny"));
    }

    [Test]
    public void GreedyWithTemperatureIsRejected()
    {
        var outcome = Fails(2, "generate", "--model", "tiny", "--prompt-tokens", "2,5", "--greedy", "--temperature", "0.5");
        Assert.That(outcome.Error, Does.Contain("--greedy").And.Contain("--temperature"));
    }

    [Test]
    public void TrailingSemicolonNamesTheEmptyPrompt()
    {
        var outcome = Fails(2, "generate", "--model", "tiny", "--prompt-tokens", "2,5;", "--greedy");
        Assert.That(outcome.Error, Does.Contain("Prompt 1 is empty"));
    }

    [Test]
    public void TokenOutsideTheVocabularyNamesThePrompt()
    {
        // The tiny preset has a vocabulary of 128.
        var outcome = Fails(2, "generate", "--model", "tiny", "--prompt-tokens", "2,5;1,128", "--greedy", "--threads", "1");
        Assert.That(outcome.Error, Does.Contain("Prompt 1, position 1"));
    }

    [Test]
    public void TensorParallelThatDoesNotDivideTheHeadsIsAnError()
    {
        Fails(2, "generate", "--model", "tiny", "--prompt-tokens", "2,5", "--greedy", "--tp", "3", "--threads", "3");
    }

    [Test]
    public void MissingDumpDirectoryIsReportedBeforeGenerating()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"exegpt-missing-{Guid.NewGuid():N}", "out.json");
        var outcome = Fails(2, "generate", "--model", "tiny", "--prompt-tokens", "2,5", "--greedy", "--dump-logits", missing);
        Assert.That(outcome.Error, Does.Contain("--dump-logits"));
    }

    [TestCase("--max-new-tokens", "0")]
    [TestCase("--tp", "0")]
    [TestCase("--stages", "-1")]
    public void OutOfRangeOptionIsAParseError(string option, string value)
    {
        var outcome = Fails(1, "generate", "--model", "tiny", "--prompt-tokens", "2,5", "--greedy", option, value);
        Assert.That(outcome.Error, Does.Contain(option));
    }
}
