namespace ExeGPT.Runtime;

/// <summary>Why a sequence stopped.</summary>
public enum FinishReason
{
    /// <summary>It produced the requested number of new tokens.</summary>
    Length,

    /// <summary>It produced the end-of-sequence token (which is included in the output).</summary>
    EndOfSequence,
}

/// <summary>One prompt's outcome.</summary>
/// <param name="Prompt">The prompt token ids.</param>
/// <param name="Generated">The generated token ids, in order.</param>
/// <param name="Logits">When captured: the vocabulary logits each generated token was sampled
/// from, one row per entry of <paramref name="Generated"/>; otherwise null.</param>
/// <param name="Reason">Why the sequence stopped.</param>
public sealed record SequenceOutput(int[] Prompt, int[] Generated, float[][]? Logits, FinishReason Reason);

/// <summary>Timings of one <see cref="HostGenerator.Generate"/> call.</summary>
/// <param name="Prefill">The ragged prefill of every prompt, including the first sampling.</param>
/// <param name="Decode">Every decode step after the prefill.</param>
/// <param name="PrefillTokens">Prompt tokens encoded.</param>
/// <param name="DecodeSteps">Decode steps run.</param>
/// <param name="DecodedTokens">Tokens produced by decode steps (the first token of each
/// sequence comes from the prefill and is not counted).</param>
public sealed record GenerationStats(TimeSpan Prefill, TimeSpan Decode, int PrefillTokens, int DecodeSteps, int DecodedTokens)
{
    /// <summary>Decode throughput; 0 when nothing was decoded.</summary>
    public double DecodeTokensPerSecond =>
        DecodedTokens == 0 || Decode <= TimeSpan.Zero ? 0 : DecodedTokens / Decode.TotalSeconds;
}

/// <summary>The outcome of a <see cref="HostGenerator.Generate"/> call.</summary>
/// <param name="Sequences">One entry per prompt, in prompt order.</param>
/// <param name="Stats">Timings.</param>
public sealed record GenerationResult(IReadOnlyList<SequenceOutput> Sequences, GenerationStats Stats);
