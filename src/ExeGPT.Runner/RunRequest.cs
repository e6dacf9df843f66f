using ExeGPT.Native;

namespace ExeGPT.Runner;

/// <summary>One query: its prompt (token ids), how many tokens to generate, and how to pick them
/// (null: greedy). The runner stops a query at <see cref="MaxNewTokens"/> or at the run's end-of-sequence
/// token.</summary>
public sealed record RunRequest(int[] Prompt, int MaxNewTokens, SamplingOptions? Sampling = null);

/// <summary>What happened to one query, times in seconds from the run's start: when it was queued, when its
/// encoding began (the paper's latency counts from here), when its first token and its last token were
/// sampled, and the encoder batch it joined.</summary>
public sealed record RequestRecord(int[] Tokens, double Queued, double Started, double FirstToken, double Finished, int EncoderBatch)
{
    /// <summary>Encode start to last token.</summary>
    public double EndToEnd => Finished - Started;

    /// <summary>Encode start to first token.</summary>
    public double Ttft => FirstToken - Started;

    /// <summary>Mean time per output token after the first.</summary>
    public double Tpot => Tokens.Length > 1 ? (Finished - FirstToken) / (Tokens.Length - 1) : 0;

    /// <summary>Waiting before the encoding began.</summary>
    public double QueueTime => Started - Queued;
}

/// <summary>Receives tokens as they are sampled (on a runner thread: return quickly, never block).</summary>
public interface IRunObserver
{
    /// <summary>Request <paramref name="request"/> sampled <paramref name="token"/>.</summary>
    void OnToken(int request, int token);

    /// <summary>Request <paramref name="request"/> produced its last token.</summary>
    void OnFinished(int request);
}
