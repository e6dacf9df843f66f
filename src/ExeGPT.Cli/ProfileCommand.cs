using System.CommandLine;
using System.Globalization;
using ExeGPT.Core.Profiles;
using ExeGPT.Native;
using ExeGPT.Native.Interop;
using ExeGPT.Profiler;
using ExeGPT.Runtime;
using Microsoft.Extensions.Logging;

namespace ExeGPT.Cli;

/// <summary><c>exegpt profile</c>: the XProfiler — time one layer of the real engine (CPU ranks or CUDA devices) over a
/// grid, on every rank of the host at once and for every TP degree, plus collectives and the KV hand-off, and write a measured profile the
/// planner reads (<c>exegpt schedule --profile FILE</c>). Cached unless <c>--no-cache</c>.</summary>
internal static class ProfileCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A size preset (`exegpt presets`) or an OPT checkpoint directory (its shape; weights are seeded).",
            Required = true,
        };
        var backend = BackendChoice.BackendOption();
        var dtype = BackendChoice.DtypeOption();
        var output = new Option<string>("--out", "-o") { Description = "Profile JSON to write.", Required = true };
        var batches = new Option<string?>("--batches") { Description = "Batch sizes, increasing (default 1,2,4,8,16)." };
        var prefillBatches = new Option<string?>("--prefill-batches") { Description = "Prefill batch sizes when they differ from --batches (then decode only)." };
        var lengths = new Option<string?>("--lengths") { Description = "Prompt lengths and decode contexts (default 16,32,64,128,256)." };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per point (median kept).", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var tp = new Option<string?>("--tp") { Description = "Tensor-parallel degrees to tabulate, e.g. 1,2 (default 1)." };
        var ranks = new Option<int>("--ranks")
        {
            Description = "Ranks sharing this host, all busy during every measurement, as `exegpt run` runs cpux<N> " +
                "(cuda: GPUs 0..N-1; default: the largest --tp degree).",
            DefaultValueFactory = _ => 0,
        }.AtLeast(0);
        var threads = new Option<int>("--threads")
        {
            Description = "CPU threads per rank (default: the cores shared evenly over the ranks).",
            DefaultValueFactory = _ => 0,
        }.AtLeast(0);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => 1 };
        var kernelLib = new Option<string?>("--kernel-lib")
        {
            Description = "A kernel plug-in library (exegpt_kernels.h) whose attention/FFN the engine runs instead of its own.",
        };
        var noCache = new Option<bool>("--no-cache")
        {
            Description = $"Measure even when the profile cache (${ProfileCache.DirectoryVariable}, else ~/.cache/exegpt/profiles) has this setup.",
        };
        var command = new Command("profile",
            "Measure one layer of the engine (attention and the rest, prefill and decode, every TP degree), collectives and the KV hand-off into a profile.")
        {
            model, backend, dtype, output, batches, prefillBatches, lengths, repeats, tp, ranks, threads, seed, kernelLib, noCache,
        };
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, context =>
        {
            BackendChoice engine = BackendChoice.Parse(parse.GetValue(backend)!, parse.GetValue(dtype));
            string? plugin = parse.GetValue(kernelLib);
            if (plugin is not null && !File.Exists(plugin))
                throw new ArgumentException($"--kernel-lib: '{plugin}' does not exist");
            int[] degrees = IntList(parse.GetValue(tp), "--tp") ?? [1];
            int rankCount = parse.GetValue(ranks);
            ModelSource source = ModelSource.Resolve(parse.GetValue(model)!);
            ProfileGrid defaults = ProfileGrid.CpuDefault;
            var grid = new ProfileGrid(
                IntList(parse.GetValue(batches), "--batches") ?? defaults.Batches,
                IntList(parse.GetValue(lengths), "--lengths") ?? defaults.Lengths,
                parse.GetValue(repeats), PrefillBatches: IntList(parse.GetValue(prefillBatches), "--prefill-batches"));
            var request = new ProfileRequest(source.Config, source.Name, grid, parse.GetValue(threads), parse.GetValue(seed),
                Ranks: rankCount > 0 ? rankCount : Math.Max(1, degrees.Max()), TensorParallel: degrees, KernelLibrary: plugin,
                Backend: engine.Kind, Dtype: engine.Dtype);

            string path = parse.GetValue(output)!;
            var progress = new ProgressBar();
            ProfileTables profile;
            try
            {
                if (parse.GetValue(noCache))
                    profile = XProfiler.Profile(request, progress);
                else
                    profile = XProfiler.ProfileCached(request, null, progress, out _, context.Log);
            }
            finally
            {
                progress.EndLine(); // an error message must not continue a half-drawn bar
            }
            ProfileJson.Write(profile, path);
            context.Log.LogInformation("wrote {Path}: {Description}", path, profile.Description);
            if (profile.Roofline is { } roofline)
                Console.Out.Write(RooflineSummary(roofline));
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
            int[] values = [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(v => int.Parse(v, CultureInfo.InvariantCulture))];
            return values.Length > 0 ? values : throw new FormatException();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ArgumentException($"{option}: '{text}' is not a comma-separated list of integers");
        }
    }

    /// <summary>Best and median fraction of the roofline per measured op, the kernel developer's headline.</summary>
    internal static string RooflineSummary(ProfileRoofline roofline)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"roofline: {roofline.Device}, {roofline.PeakFlops / 1e9:0.#} GFLOP/s, {roofline.MemoryBandwidth / 1e9:0.#} GB/s per rank");
        text.AppendLine($"{"tp",3}  {"op",-18} {"best",7} {"median",7} {"best TFLOP/s",13} {"best GB/s",10}");
        foreach (RooflineOp op in roofline.Ops)
        {
            int best = op.Fraction.Select((f, i) => (f, i)).MaxBy(p => p.f).i;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{op.TensorParallel,3}  {op.Table,-18} {Percent(op.BestFraction),7} {Percent(op.MedianFraction),7} {op.AchievedTflops[best],13:0.0000} {op.AchievedGbps[best],10:0.00}");
        }
        return text.ToString();
    }

    private static string Percent(double fraction) => string.Create(CultureInfo.InvariantCulture, $"{100 * fraction:0.0}%");

    /// <summary>Profiler progress on stderr: a bar redrawn in place on a terminal
    /// (<c>[#####.....] 12/50 points  prefill tp=1 b=4 s=128</c>), ended by a newline at the last point; when stderr
    /// goes to a file or pipe, a plain line every tenth of the way (no carriage returns in logs).</summary>
    internal static IProgress<ProfileProgress> TerminalProgress() => new ProgressBar();

    private sealed class ProgressBar : IProgress<ProfileProgress>
    {
        private const int Width = 20;
        private readonly bool _terminal = !Console.IsErrorRedirected;
        private int _lastTenth = -1, _drawn;

        public void Report(ProfileProgress value)
        {
            int total = Math.Max(1, value.Total);
            if (_terminal)
            {
                int filled = Width * value.Done / total;
                string line = $"[{new string('#', filled)}{new string('.', Width - filled)}] {value.Done}/{value.Total} points  {value.Point}";
                Console.Error.Write($"\r{line}{new string(' ', Math.Max(0, _drawn - line.Length))}");
                _drawn = line.Length;
                if (value.Done >= value.Total)
                    EndLine();
                return;
            }
            int tenth = 10 * value.Done / total;
            if (tenth == _lastTenth)
                return;
            _lastTenth = tenth;
            Console.Error.WriteLine($"profiling: {value.Done}/{value.Total} points ({100 * value.Done / total}%)  {value.Point}");
        }

        /// <summary>Moves past a drawn bar (nothing when none is on screen).</summary>
        public void EndLine()
        {
            if (_drawn == 0)
                return;
            Console.Error.WriteLine();
            _drawn = 0;
        }
    }
}
