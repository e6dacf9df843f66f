using ExeGPT.Native.Interop;

namespace ExeGPT.Runner;

/// <summary>What an <see cref="ExeGptEngine"/> accepts: its KV caches are sized once, for the longest prompt and
/// the largest token budget, so every request must fit them.</summary>
/// <param name="MaxPromptTokens">The longest prompt a request may have.</param>
/// <param name="MaxNewTokens">The largest token budget a request may ask for.</param>
/// <param name="ExpectedNewTokens">The mean number of tokens requests generate (null: <paramref name="MaxNewTokens"/>,
/// which reserves the most memory). It sizes the running batch the way the schedule assumed (RRA slots, WAA decode
/// capacity) and sets the workload adjuster's decode target; a low guess only makes requests wait longer for room.</param>
public sealed record EngineLimits(int MaxPromptTokens, int MaxNewTokens, double? ExpectedNewTokens = null)
{
    /// <summary>Mean decode steps per request (the first token comes from the prefill).</summary>
    internal double MeanDecodeSteps => (ExpectedNewTokens ?? MaxNewTokens) - 1;

    /// <summary>Checks the limits against the model's positions.</summary>
    /// <exception cref="ArgumentException">A limit is not positive, or prompt and budget exceed the model.</exception>
    internal void Validate(in exg_model_config config)
    {
        if (MaxPromptTokens < 1)
            throw new ArgumentException($"MaxPromptTokens must be at least 1 (got {MaxPromptTokens}).", "limits");
        if (MaxNewTokens < 1)
            throw new ArgumentException($"MaxNewTokens must be at least 1 (got {MaxNewTokens}).", "limits");
        // The last generated token is returned, never fed back, so it takes no position.
        long positions = (long)MaxPromptTokens + MaxNewTokens - 1;
        if (positions > config.max_positions)
            throw new ArgumentException(
                $"MaxPromptTokens ({MaxPromptTokens}) + MaxNewTokens ({MaxNewTokens}) need {positions} positions; " +
                $"the model has {config.max_positions}.", "limits");
        if (ExpectedNewTokens is double expected && !(expected >= 1 && expected <= MaxNewTokens))
            throw new ArgumentException(
                $"ExpectedNewTokens must lie in [1, MaxNewTokens = {MaxNewTokens}] (got {expected}).", "limits");
    }
}
