namespace ExeGPT.Runner;

public sealed partial class ExeGptEngine
{
    /// <summary>Refuses, before anything is queued, what breaks this engine's limits, in their terms; the runner's own
    /// checks (sampling options included) follow in the session's Add.</summary>
    private void Validate(RunRequest request)
    {
        int[] prompt = request.Prompt;
        if (prompt is null || prompt.Length == 0)
            throw new ArgumentException("The prompt is empty; a request needs at least one token.", nameof(request));
        if (prompt.Length > Limits.MaxPromptTokens)
            throw new ArgumentException(
                $"The prompt has {prompt.Length} tokens; this engine takes at most {Limits.MaxPromptTokens} (EngineLimits.MaxPromptTokens).",
                nameof(request));
        if (request.MaxNewTokens < 1 || request.MaxNewTokens > Limits.MaxNewTokens)
            throw new ArgumentException(
                $"MaxNewTokens is {request.MaxNewTokens}; it must lie in [1, {Limits.MaxNewTokens}] (EngineLimits.MaxNewTokens).",
                nameof(request));
        int vocab = _config.vocab_size;
        for (int i = 0; i < prompt.Length; i++)
            if ((uint)prompt[i] >= (uint)vocab)
                throw new ArgumentException($"Prompt position {i}: token id {prompt[i]} is outside the vocabulary [0, {vocab}).", nameof(request));
    }
}
