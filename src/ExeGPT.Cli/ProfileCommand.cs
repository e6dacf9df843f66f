using System.CommandLine;
using ExeGPT.Core.Profiles;
using ExeGPT.Profiler;
using ExeGPT.Runtime;
using Microsoft.Extensions.Logging;

namespace ExeGPT.Cli;

/// <summary><c>exegpt profile</c>: the XProfiler — time one layer of the real engine over a grid and write a
/// measured profile the planner reads (<c>exegpt schedule --profile FILE</c>).</summary>
internal static class ProfileCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A size preset (`exegpt presets`) or an OPT checkpoint directory (its shape; weights are seeded).",
            Required = true,
        };
        var backend = new Option<string>("--backend")
        {
            Description = "Engine backend to measure: cpu (cuda comes with the CUDA backend).",
            DefaultValueFactory = _ => "cpu",
        };
        var output = new Option<string>("--out", "-o") { Description = "Profile JSON to write.", Required = true };
        var batches = new Option<string?>("--batches") { Description = "Batch sizes, increasing (default 1,2,4,8,16)." };
        var lengths = new Option<string?>("--lengths") { Description = "Prompt lengths and decode contexts (default 16,32,64,128,256)." };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per point (median kept).", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: every core).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => 1 };
        var command = new Command("profile", "Measure one layer of the engine (attention and the rest, prefill and decode) into a profile.")
        {
            model, backend, output, batches, lengths, repeats, threads, seed,
        };
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, context =>
        {
            string kind = parse.GetValue(backend)!.Trim().ToLowerInvariant();
            if (kind != "cpu")
                throw new ArgumentException($"--backend: '{kind}' cannot be profiled yet (available: cpu)");
            ModelSource source = ModelSource.Resolve(parse.GetValue(model)!);
            ProfileGrid defaults = ProfileGrid.CpuDefault;
            var grid = new ProfileGrid(
                IntList(parse.GetValue(batches), "--batches") ?? defaults.Batches,
                IntList(parse.GetValue(lengths), "--lengths") ?? defaults.Lengths,
                parse.GetValue(repeats));
            string path = parse.GetValue(output)!;
            var request = new ProfileRequest(source.Config, source.Name, grid, parse.GetValue(threads), parse.GetValue(seed));
            var progress = new TerminalProgress("profiling");
            ProfileTables profile = XProfiler.Profile(request, progress);
            progress.Done();
            ProfileJson.Write(profile, path);
            context.Log.LogInformation("wrote {Path}: {Description}", path, profile.Description);
            return 0;
        }));
        return command;
    }

    private static int[]? IntList(string? text, string option)
    {
        if (text is null)
            return null;
        try
        {
            return [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse)];
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option}: '{text}' is not a comma-separated list of integers");
        }
    }

    /// <summary>A one-line progress counter on stderr (only when stderr is a terminal).</summary>
    private sealed class TerminalProgress(string label) : IProgress<(int Done, int Total)>
    {
        private readonly bool _terminal = !Console.IsErrorRedirected;

        public void Report((int Done, int Total) value)
        {
            if (_terminal)
                Console.Error.Write($"\r{label} {value.Done}/{value.Total} ({100.0 * value.Done / value.Total:F0}%)");
        }

        public void Done()
        {
            if (_terminal)
                Console.Error.WriteLine();
        }
    }
}
