using ExeGPT.Native;

namespace ExeGPT.Runtime;

/// <summary>
/// Book-keeping of one generation: what each sequence produced so far, and which sequence and rng
/// stream each live batch row belongs to. Everything is sized up front, so recording a step
/// allocates only when logits are captured (those rows are the requested output itself).
/// </summary>
internal sealed class SequenceTable
{
    private readonly int _maxNewTokens;
    private readonly int? _eosTokenId;
    private readonly int[][] _generated;
    private readonly int[] _counts;
    private readonly float[][][]? _logits;
    private readonly FinishReason[] _reasons;

    public SequenceTable(int count, int maxNewTokens, bool captureLogits, int? eosTokenId, ulong seed)
    {
        _maxNewTokens = maxNewTokens;
        _eosTokenId = eosTokenId;
        _generated = new int[count][];
        _counts = new int[count];
        _reasons = new FinishReason[count];
        _logits = captureLogits ? new float[count][][] : null;
        RowSequence = new int[count];
        RowRng = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            _generated[i] = new int[maxNewTokens];
            if (_logits is not null)
                _logits[i] = new float[maxNewTokens][];
            RowSequence[i] = i;
            RowRng[i] = Sampler.RngInit(seed, (ulong)i);
        }
    }

    /// <summary>Sequence index of each live batch row.</summary>
    public int[] RowSequence { get; }

    /// <summary>Rng state of each live batch row (moves with its sequence).</summary>
    public ulong[] RowRng { get; }

    public int GeneratedCount(int sequence) => _counts[sequence];

    /// <summary>Appends a sampled token; returns why the sequence is finished, or null.</summary>
    public FinishReason? Record(int sequence, int token, ReadOnlySpan<float> logitsRow)
    {
        int step = _counts[sequence]++;
        _generated[sequence][step] = token;
        if (_logits is not null)
            _logits[sequence][step] = logitsRow.ToArray();

        FinishReason? reason = token == _eosTokenId ? FinishReason.EndOfSequence
            : step + 1 == _maxNewTokens ? FinishReason.Length
            : null;
        if (reason is { } finished)
            _reasons[sequence] = finished;
        return reason;
    }

    public SequenceOutput[] ToOutputs(IReadOnlyList<int[]> prompts)
    {
        var outputs = new SequenceOutput[_counts.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            int produced = _counts[i];
            outputs[i] = new SequenceOutput(
                (int[])prompts[i].Clone(),
                _generated[i][..produced],
                _logits?[i][..produced],
                _reasons[i]);
        }
        return outputs;
    }
}
