namespace ExeGPT.Runner;

/// <summary>Thresholds of the paper's dynamic workload adjustment (§5.2; the paper gives no values).</summary>
/// <param name="Enabled">Off: every encoder batch takes exactly B_E queries in arrival order.</param>
/// <param name="EncoderThreshold">Relative band around the average encoder workload (B_E × mean input length)
/// that a batch's summed input lengths should fall in.</param>
/// <param name="DecoderThreshold">Relative drift of the decode batch from its target that nudges B_E by one.</param>
/// <param name="Lookahead">How many queued queries (in multiples of B_E) a batch may pick from, so it can land in
/// the band; a query passed over twice is taken first next time (no starvation).</param>
public sealed record AdjustmentOptions(bool Enabled = true, double EncoderThreshold = 0.1, double DecoderThreshold = 0.25,
    int Lookahead = 4);

/// <summary>
/// Sizes each encoder batch (paper §5.2): rule 1 picks queries so the batch's summed input length stays within
/// <see cref="AdjustmentOptions.EncoderThreshold"/> of B_E × the average input length; rule 2 raises or lowers
/// the effective B_E by one while the decode batch is more than <see cref="AdjustmentOptions.DecoderThreshold"/>
/// below or above its target. Queries keep arrival order except those skipped to land in the band.
/// </summary>
internal sealed class WorkloadAdjuster
{
    private readonly AdjustmentOptions _options;
    private readonly int _batch;

    private readonly double _decodeTarget;
    private int _nudge;

    public WorkloadAdjuster(AdjustmentOptions options, int encoderBatch, double meanInput, double decodeTarget)
    {
        _options = options;
        _batch = encoderBatch;
        MeanInput = meanInput;
        _decodeTarget = decodeTarget;
    }

    /// <summary>Mean input length of the workload (the average encoder workload is B_E × this).</summary>
    public double MeanInput { get; set; }

    /// <summary>The effective B_E now (B_E plus the decoder nudge).</summary>
    public int Batch => Math.Max(1, _batch + _nudge);

    /// <summary>The band the summed input lengths of a batch of <see cref="Batch"/> aims at.</summary>
    public (double Low, double High) Band => (Batch * MeanInput * (1 - _options.EncoderThreshold),
        Batch * MeanInput * (1 + _options.EncoderThreshold));

    /// <summary>Rule 2: called with the decode batch observed when a new encoder batch is formed.</summary>
    public void ObserveDecodeBatch(double rows)
    {
        if (!_options.Enabled || _decodeTarget <= 0)
            return;
        int limit = Math.Max(1, _batch / 2);
        if (rows < _decodeTarget * (1 - _options.DecoderThreshold))
            _nudge = Math.Min(_nudge + 1, limit);
        else if (rows > _decodeTarget * (1 + _options.DecoderThreshold))
            _nudge = Math.Max(_nudge - 1, -limit);
        else
            _nudge -= Math.Sign(_nudge);   // back toward the scheduled B_E once on target
    }

    /// <summary>Rule 1: chooses which of the <paramref name="queued"/> input lengths (arrival order) form the
    /// next batch (at most <paramref name="maxCount"/>, the free KV slots, and twice the effective B_E); writes their positions (ascending) to <paramref name="picked"/> and returns how many.
    /// <paramref name="passedOver"/> counts, per position, how often a query was skipped before.</summary>
    public int Pick(ReadOnlySpan<int> queued, ReadOnlySpan<int> passedOver, Span<int> picked, int maxCount)
    {
        int target = Math.Min(Batch, maxCount);
        int most = Math.Min(maxCount, 2 * target);
        if (!_options.Enabled || queued.Length <= 1)
        {
            int n = Math.Min(target, queued.Length);
            for (int i = 0; i < n; i++) picked[i] = i;
            return n;
        }
        var (low, high) = Band;
        int window = Math.Min(queued.Length, target * _options.Lookahead);
        int count = 0;
        double sum = 0;
        // Starving queries first, then greedily in arrival order while the sum stays under the band's top.
        for (int i = 0; i < window && count < most; i++)
            if (passedOver[i] >= 2 && (count == 0 || sum + queued[i] <= high))
            {
                picked[count++] = i;
                sum += queued[i];
            }
        for (int i = 0; i < window && sum < low && count < most; i++)
        {
            if (passedOver[i] >= 2 || sum + queued[i] > high)
                continue;
            picked[count++] = i;
            sum += queued[i];
        }
        if (count == 0)
        {
            // Every query alone overshoots the band: take the oldest rather than stall.
            picked[count++] = 0;
        }
        picked[..count].Sort();
        return count;
    }
}
