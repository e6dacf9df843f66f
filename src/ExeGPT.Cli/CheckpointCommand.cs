using System.CommandLine;
using ExeGPT.Native;
using ExeGPT.Runtime;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Cli;

/// <summary><c>exegpt checkpoint save</c>: writes a model (typically a preset with seeded random
/// weights) as a Hugging Face OPT checkpoint, so other implementations can load the same weights.</summary>
internal static class CheckpointCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A preset name (or a checkpoint directory to re-save in another dtype).",
            Required = true,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights." };
        var output = new Option<string>("--out", "-o") { Description = "Directory to write.", Required = true };
        var dtype = new Option<string>("--dtype")
        {
            Description = "Storage dtype of the tensors.",
            DefaultValueFactory = _ => "f32",
        };
        dtype.AcceptOnlyFromAmong([.. DtypeNames.All.Keys]);
        var threads = new Option<int>("--threads") { Description = "CPU threads (default 0: every core)." };

        var save = new Command("save", "Write a model as config.json + model.safetensors.")
        {
            model, seed, output, dtype, threads,
        };
        save.SetAction(parse => CommandRunner.Execute(parse, verbose, context =>
        {
            ModelSource source = ModelSource.Resolve(parse.GetValue(model)!);
            string directory = Path.GetFullPath(parse.GetValue(output)!);
            string dtypeName = parse.GetValue(dtype)!;
            ulong seedValue = parse.GetValue(seed);

            Directory.CreateDirectory(directory);
            using Backend backend = Backend.CreateCpu(parse.GetValue(threads));
            using Model shard = Model.Create(backend, new ModelOptions
            {
                Config = source.Config,
                CheckpointDir = source.CheckpointDir,
                Seed = seedValue,
            });
            shard.SaveCheckpoint(directory, DtypeNames.All[dtypeName]);
            CliLog.CheckpointSaved(context.Log, source.Name, seedValue, dtypeName, directory);
            return 0;
        }));

        return new Command("checkpoint", "Hugging Face checkpoint tools.") { save };
    }
}
