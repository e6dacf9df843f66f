using Microsoft.Extensions.Logging;

namespace ExeGPT.Cli;

/// <summary>Source-generated log messages of the CLI; event ids 2000-2099 are stable.</summary>
internal static partial class CliLog
{
    [LoggerMessage(EventId = 2000,
        Message = "prefill {PrefillMs:F1} ms ({PrefillTokens} tokens), decode {DecodedTokens} tokens in {DecodeMs:F1} ms ({TokensPerSecond:F1} tokens/s)")]
    public static partial void Timing(ILogger logger, LogLevel level, double prefillMs, int prefillTokens,
        int decodedTokens, double decodeMs, double tokensPerSecond);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information,
        Message = "Wrote the logits of {Steps} generated step(s) to {Path}")]
    public static partial void LogitsWritten(ILogger logger, int steps, string path);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information,
        Message = "Saved {Model} (seed {Seed}) as a {Dtype} checkpoint in {Directory}")]
    public static partial void CheckpointSaved(ILogger logger, string model, ulong seed, string dtype, string directory);
}
