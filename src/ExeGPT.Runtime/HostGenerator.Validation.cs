using ExeGPT.Native;

namespace ExeGPT.Runtime;

public sealed partial class HostGenerator
{
    /// <summary>Checks a whole request before any slot is taken, so a bad prompt never leaves a
    /// half-run batch behind; returns the total prompt token count.</summary>
    private int ValidateRequest(IReadOnlyList<int[]> prompts, int maxNewTokens, in SamplingOptions sampling, int? eosTokenId)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0)
            throw new ArgumentException("At least one prompt is required.", nameof(prompts));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1);

        int vocab = _config.vocab_size, maxPositions = _config.max_positions;
        long totalTokens = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            int[]? prompt = prompts[i];
            if (prompt is null || prompt.Length == 0)
                throw new ArgumentException($"Prompt {i} is empty; every prompt needs at least one token.", nameof(prompts));
            // The last generated token is returned, never fed back, so it takes no position.
            long positions = (long)prompt.Length + maxNewTokens - 1;
            if (positions > maxPositions)
                throw new ArgumentException(
                    $"Prompt {i} has {prompt.Length} tokens; with {maxNewTokens} new tokens it needs " +
                    $"{positions} positions, but the model allows {maxPositions} (max_positions).",
                    nameof(prompts));
            for (int j = 0; j < prompt.Length; j++)
                if ((uint)prompt[j] >= (uint)vocab)
                    throw new ArgumentException(
                        $"Prompt {i}, position {j}: token id {prompt[j]} is outside the vocabulary [0, {vocab}).",
                        nameof(prompts));
            totalTokens += prompt.Length;
        }
        // Host buffers are addressed with spans, whose lengths are ints.
        if (totalTokens * _config.hidden_size > int.MaxValue || (long)prompts.Count * vocab > int.MaxValue)
            throw new ArgumentException(
                $"The batch ({prompts.Count} prompts, {totalTokens} tokens) is too large for one prefill; split it.",
                nameof(prompts));

        if (eosTokenId is int eos && (uint)eos >= (uint)vocab)
            throw new ArgumentOutOfRangeException(nameof(eosTokenId), eos, $"The EOS token id must lie in [0, {vocab}).");
        if (sampling.Problem() is { } problem)
            throw new ArgumentOutOfRangeException(nameof(sampling), problem);
        return (int)totalTokens;
    }
}
