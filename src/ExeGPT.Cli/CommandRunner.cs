using System.CommandLine;
using ExeGPT.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace ExeGPT.Cli;

/// <summary>What every command body gets: its parse result and loggers that write to stderr.</summary>
internal sealed record CommandContext(ParseResult Parse, ILoggerFactory Loggers, ILogger Log);

/// <summary>The shared frame of every command: logging, native library start-up, and turning
/// the errors a user can act on into one stderr line and exit code 2.</summary>
internal static class CommandRunner
{
    public const int UserError = 2;

    /// <summary>Runs <paramref name="body"/>; <paramref name="needsEngine"/> false skips loading libexegpt, so
    /// the planning commands (schedule, simulate, paper) work on a machine without the native engine.</summary>
    public static int Execute(ParseResult parse, Option<bool> verboseOption, Func<CommandContext, int> body, bool needsEngine = true)
    {
        bool verbose = parse.GetValue(verboseOption);
        Exception? failure = null;
        int exitCode;
        using (ILoggerFactory loggers = CreateLoggers(verbose))
        {
            try
            {
                // Loads libexegpt and checks its API version, so a bad install fails here, clearly.
                if (needsEngine)
                    NativeLibraryLoader.Initialize();
                exitCode = body(new CommandContext(parse, loggers, loggers.CreateLogger("exegpt")));
            }
            catch (Exception e) when (IsUserError(e))
            {
                failure = e;
                exitCode = UserError;
            }
        } // Disposing the factory flushes queued log lines, so the error below comes last.

        if (failure is not null)
            Console.Error.WriteLine(verbose ? $"error: {failure}" : $"error: {Describe(failure)}");
        return exitCode;
    }

    /// <summary>Bad input or environment, as opposed to a bug: those still get the default
    /// handler's full report.</summary>
    private static bool IsUserError(Exception e) =>
        e is ExgException or Core.SpecException or ArgumentException or IOException or UnauthorizedAccessException
            or DllNotFoundException;

    /// <summary>The message alone: the parameter name .NET appends means nothing on a command line.</summary>
    private static string Describe(Exception e) =>
        e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "") : e.Message;

    private static ILoggerFactory CreateLoggers(bool verbose) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information)
        // stdout carries results (and JSON); every log line goes to stderr.
        .AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddSimpleConsole(options => options.SingleLine = true));
}
