using ExeGPT.Core.Profiles;

namespace ExeGPT.Planning.Tests.Simulator;

/// <summary>A synthetic profile whose every time is a one-line formula, so simulator results can be worked out
/// by hand. Times are in seconds; tensor parallelism divides compute by the degree. Queries past
/// <see cref="MaxBatch"/> sequences or <see cref="MaxTokens"/> tokens throw, as a measured grid would.</summary>
internal sealed class HandProfile : ILayerProfile
{
    public string Description => "hand-made linear profile";

    public IReadOnlyList<int> TensorParallelDegrees { get; init; } = [1, 2, 4];

    /// <summary>Prefill rest of layer: seconds per token.</summary>
    public double PrefillPerToken { get; init; }

    /// <summary>Prefill attention: seconds per sequence per token of its length.</summary>
    public double PrefillAttentionPerToken { get; init; }

    /// <summary>Decode rest of layer: fixed part (weights streaming).</summary>
    public double DecodeFixed { get; init; }

    /// <summary>Decode rest of layer: seconds per sequence.</summary>
    public double DecodePerSequence { get; init; }

    /// <summary>Decode self-attention: seconds per sequence per cached token.</summary>
    public double DecodeAttentionPerToken { get; init; }

    /// <summary>Cross-attention: seconds per sequence per encoder token.</summary>
    public double CrossPerToken { get; init; }

    /// <summary>One all-reduce at degree &gt; 1 (any size).</summary>
    public double AllReduceTime { get; init; }

    /// <summary>Point-to-point: latency per message between devices of a node.</summary>
    public double IntraLatency { get; init; }

    /// <summary>Point-to-point: latency per message between nodes.</summary>
    public double InterLatency { get; init; }

    /// <summary>Device → host → device hand-off: latency per message.</summary>
    public double HostLatency { get; init; }

    /// <summary>Every link: seconds per byte.</summary>
    public double PerByte { get; init; }

    /// <summary>Largest batch on the grid.</summary>
    public double MaxBatch { get; init; } = 1e9;

    /// <summary>Largest token count on the grid.</summary>
    public double MaxTokens { get; init; } = 1e12;

    private void Check(double batch, double tokens)
    {
        if (batch > MaxBatch)
            throw new ProfileRangeException($"batch {batch} is past the grid's {MaxBatch}");
        if (tokens > MaxTokens)
            throw new ProfileRangeException($"{tokens} tokens are past the grid's {MaxTokens}");
    }

    public double PrefillAttention(int tp, double batch, double seqLen)
    {
        Check(batch, batch * seqLen);
        return PrefillAttentionPerToken * batch * seqLen / tp;
    }

    public double PrefillRest(int tp, double tokens)
    {
        Check(0, tokens);
        return PrefillPerToken * tokens / tp;
    }

    public double DecodeAttention(int tp, double batch, double context)
    {
        Check(batch, batch);
        return DecodeAttentionPerToken * batch * context / tp;
    }

    public double CrossAttention(int tp, double batch, double encoderLength)
    {
        Check(batch, batch);
        return CrossPerToken * batch * encoderLength / tp;
    }

    public double DecodeRest(int tp, double tokens)
    {
        Check(tokens, tokens);
        return (DecodeFixed + DecodePerSequence * tokens) / tp;
    }

    public double AllReduce(int tp, double bytes) => tp == 1 ? 0 : AllReduceTime;

    public double Send(LinkClass link, double bytes) => link switch
    {
        LinkClass.IntraNode => IntraLatency,
        LinkClass.InterNode => InterLatency,
        _ => HostLatency,
    } + PerByte * bytes;
}
