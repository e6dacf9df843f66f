using System.CommandLine;
using System.Text.Json;
using ExeGPT.Native;
using ExeGPT.Runtime;
using Microsoft.Extensions.Logging;

namespace ExeGPT.Cli;

/// <summary><c>exegpt generate</c>: token ids in, token ids out, on a sharded host model.</summary>
internal static class GenerateCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A preset name (see `exegpt presets`) or a Hugging Face OPT checkpoint directory.",
            Required = true,
        };
        var promptTokens = new Option<string>("--prompt-tokens", "-p")
        {
            Description = "Token ids of the prompts: ids separated by ',', prompts by ';' (e.g. \"2,31414,232;2,100\").",
            Required = true,
        };
        var maxNewTokens = new Option<int>("--max-new-tokens", "-n")
        {
            Description = "Tokens to generate per prompt.",
            DefaultValueFactory = _ => 16,
        }.AtLeast(1);
        var greedy = new Option<bool>("--greedy") { Description = "Pick the most likely token (argmax)." };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature (default 1)." };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens (default 0: all)." };
        var topP = new Option<float?>("--top-p") { Description = "Nucleus sampling mass in (0, 1] (default 1: all)." };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of a preset's random weights and of the sampling streams.",
        };
        var tp = new Option<int>("--tp") { Description = "Tensor-parallel ranks per stage.", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var stages = new Option<int>("--stages") { Description = "Pipeline stages.", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var threads = new Option<int>("--threads")
        {
            Description = "CPU threads in total, split over the TP ranks (default 0: every core).",
        };
        var backend = BackendChoice.BackendOption();
        var dtype = BackendChoice.DtypeOption();
        var eos = new Option<int?>("--eos-token-id")
        {
            Description = "Stop a sequence after it emits this token (default: a checkpoint's eos_token_id).",
        };
        var ignoreEos = new Option<bool>("--ignore-eos")
        {
            Description = "Generate --max-new-tokens tokens even past a checkpoint's eos_token_id.",
        };
        var json = new Option<bool>("--json") { Description = "Print {\"cases\":[{\"prompt\":[..],\"generated\":[..]}]} on stdout." };
        var dumpLogits = new Option<string?>("--dump-logits")
        {
            Description = "Also write every generated step's logits as JSON to this file.",
        };

        var command = new Command("generate", "Generate tokens for one or more tokenised prompts.")
        {
            model, promptTokens, maxNewTokens, greedy, temperature, topK, topP, seed, tp, stages, threads, backend, dtype, eos,
            ignoreEos, json, dumpLogits,
        };
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, context =>
        {
            BackendChoice engine = BackendChoice.Parse(parse.GetValue(backend)!, parse.GetValue(dtype));
            IReadOnlyList<int[]> prompts = PromptTokens.Parse(parse.GetValue(promptTokens)!);
            SamplingOptions sampling = Sampling(parse.GetValue(greedy), parse.GetValue(temperature),
                parse.GetValue(topK), parse.GetValue(topP));
            string? logitsPath = parse.GetValue(dumpLogits);
            if (logitsPath is not null)
                EnsureWritableLocation(logitsPath);
            bool asJson = parse.GetValue(json);
            ulong seedValue = parse.GetValue(seed);

            ModelSource source = ModelSource.Resolve(parse.GetValue(model)!);
            // Like Hugging Face generate: stop at the checkpoint's EOS unless told otherwise.
            int? eosTokenId = parse.GetValue(eos) ?? (parse.GetValue(ignoreEos) ? null : source.EosTokenId);
            var options = new GeneratorOptions
            {
                Model = source,
                Seed = seedValue,
                TensorParallel = parse.GetValue(tp),
                Stages = parse.GetValue(stages),
                Threads = parse.GetValue(threads),
                Backend = engine.Kind,
                Dtype = engine.Dtype,
            };
            GenerationResult result;
            using (var generator = new HostGenerator(options, context.Loggers.CreateLogger<HostGenerator>()))
            {
                result = generator.Generate(prompts, parse.GetValue(maxNewTokens), sampling, seedValue,
                    captureLogits: logitsPath is not null, eosTokenId);
            }

            if (asJson)
                Console.Out.WriteLine(JsonSerializer.Serialize(ToDocument(result, withLogits: false),
                    GenerationJsonContext.Default.GenerationDocument));
            else
                PrintText(result);
            if (logitsPath is not null)
                WriteLogits(result, logitsPath, context.Log);

            GenerationStats stats = result.Stats;
            // With --json, stdout is for machines and the summary is a detail.
            CliLog.Timing(context.Log, asJson ? LogLevel.Debug : LogLevel.Information, stats.Prefill.TotalMilliseconds,
                stats.PrefillTokens, stats.DecodedTokens, stats.Decode.TotalMilliseconds, stats.DecodeTokensPerSecond);
            return 0;
        }));
        return command;
    }

    /// <summary>--greedy excludes the sampling knobs: accepting both would silently ignore one.</summary>
    internal static SamplingOptions Sampling(bool greedy, float? temperature, int? topK, float? topP)
    {
        if (greedy)
        {
            if (temperature is not null || topK is not null || topP is not null)
                throw new ArgumentException("--greedy cannot be combined with --temperature, --top-k or --top-p.");
            return new SamplingOptions(Greedy: true);
        }
        return new SamplingOptions(Greedy: false, temperature ?? 1f, topK ?? 0, topP ?? 1f);
    }

    /// <summary>Fails before the (possibly long) generation rather than after it.</summary>
    private static void EnsureWritableLocation(string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
            throw new ArgumentException($"--dump-logits: the directory '{directory}' does not exist.");
    }

    private static void PrintText(GenerationResult result)
    {
        foreach (SequenceOutput sequence in result.Sequences)
        {
            Console.Out.WriteLine($"prompt: {PromptTokens.Format(sequence.Prompt)}");
            Console.Out.WriteLine($"generated: {PromptTokens.Format(sequence.Generated)}");
        }
    }

    private static void WriteLogits(GenerationResult result, string path, ILogger log)
    {
        using (FileStream file = File.Create(path))
            JsonSerializer.Serialize(file, ToDocument(result, withLogits: true), GenerationJsonContext.Default.GenerationDocument);
        CliLog.LogitsWritten(log, result.Sequences.Sum(s => s.Generated.Length), path);
    }

    private static GenerationDocument ToDocument(GenerationResult result, bool withLogits) => new()
    {
        Cases = result.Sequences
            .Select(s => new GenerationCase
            {
                Prompt = s.Prompt,
                Generated = s.Generated,
                Logits = withLogits ? s.Logits : null,
            })
            .ToArray(),
    };
}
