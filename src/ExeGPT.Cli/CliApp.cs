using System.CommandLine;

namespace ExeGPT.Cli;

/// <summary>The command tree of <c>exegpt</c>.</summary>
public static class CliApp
{
    /// <summary>Parses and runs; returns the process exit code (0 ok, 1 bad command line, 2 a
    /// request the engine or the runtime rejected).</summary>
    public static int Run(string[] args)
    {
        // With nothing to do, say what can be done rather than complain that no command was given.
        if (args.Length == 0)
            args = ["--help"];
        return Build().Parse(args).Invoke();
    }

    /// <summary>Builds a fresh command tree (options are not shared between trees).</summary>
    public static RootCommand Build()
    {
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Debug logging, and stack traces on errors.",
            Recursive = true,
        };
        var root = new RootCommand("ExeGPT: LLM inference on the ExeGPT native engine.");
        root.Options.Add(verbose);
        root.Subcommands.Add(RunCommand.Create(verbose));
        root.Subcommands.Add(GenerateCommand.Create(verbose));
        root.Subcommands.Add(PresetsCommand.Create(verbose));
        root.Subcommands.Add(ProfileCommand.Create(verbose));
        root.Subcommands.Add(CheckpointCommand.Create(verbose));
        root.Subcommands.Add(ScheduleCommand.Create(verbose));
        root.Subcommands.Add(SimulateCommand.Create(verbose));
        root.Subcommands.Add(PaperCommand.Create(verbose));
        return root;
    }
}
