using ExeGPT.Cli;

namespace ExeGPT.Tests.Cli;

/// <summary>What one <c>exegpt</c> invocation printed and returned.</summary>
public sealed record CliOutcome(int ExitCode, string Out, string Error);

/// <summary>
/// Runs the CLI in-process with stdout and stderr captured. Console redirection is process-wide, so
/// fixtures using this must be [NonParallelizable]; the previous writers are restored even on failure.
/// </summary>
public static class CliRunner
{
    public static CliOutcome Run(params string[] args)
    {
        var previousOut = Console.Out;
        var previousError = Console.Error;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exitCode;
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            exitCode = CliApp.Run(args);
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }

        var outcome = new CliOutcome(exitCode, stdout.ToString(), stderr.ToString());
        TestContext.Out.WriteLine($"exegpt {string.Join(' ', args)} -> {exitCode}");
        if (outcome.Error.Length > 0)
        {
            TestContext.Out.WriteLine($"stderr:\n{outcome.Error}");
        }

        return outcome;
    }

    /// <summary>Runs a command that must succeed; returns its stdout.</summary>
    public static string Succeed(params string[] args)
    {
        var outcome = Run(args);
        Assert.That(outcome.ExitCode, Is.Zero, $"exegpt {string.Join(' ', args)} failed:\n{outcome.Error}");
        return outcome.Out;
    }
}
