namespace ExeGPT.Core.Profiles;

/// <summary>Knobs of the analytic (roofline) profile: achievable fractions of the device peaks, per-kernel
/// launch cost, and the grids the tables are sampled on.</summary>
public sealed record AnalyticOptions
{
    /// <summary>Fraction of peak FLOP/s a large GEMM reaches (default 0.7).</summary>
    public double GemmComputeEfficiency { get; init; } = 0.7;

    /// <summary>Fraction of peak FLOP/s a fused (flash-style) attention kernel reaches (default 0.5).</summary>
    public double AttentionComputeEfficiency { get; init; } = 0.5;

    /// <summary>Fraction of peak memory bandwidth any kernel reaches (default 0.8).</summary>
    public double MemoryEfficiency { get; init; } = 0.8;

    /// <summary>Fixed cost per kernel launch in seconds (default 4 µs).</summary>
    public double LaunchOverheadSeconds { get; init; } = 4e-6;

    /// <summary>Largest batch on the attention grids (default 4096).</summary>
    public double MaxBatch { get; init; } = 4096;

    /// <summary>Largest sequence, context and encoder length; null means the model's MaxPositions.</summary>
    public double? MaxLength { get; init; }

    /// <summary>Largest token count on the rest-of-layer grids; null means MaxBatch × MaxLength (prefill of
    /// the biggest batch of the longest inputs).</summary>
    public double? MaxTokens { get; init; }

    /// <summary>Largest message on the all-reduce and send grids (default 64 GiB).</summary>
    public double MaxBytes { get; init; } = 64.0 * (1L << 30);

    /// <summary>Ratio between neighbouring points of the length and token grids (default 1.03). A roofline
    /// is piecewise linear with kinks where an op turns from memory- to compute-bound; linear interpolation
    /// across a kink errs by at most (√r − 1)/(√r + 1), 0.74% at 1.03 (1% needs r ≤ 1.0408).</summary>
    public double LengthGridRatio { get; init; } = 1.03;

    /// <summary>Ratio between neighbouring batch points (default √2). Every analytic op is proportional to
    /// the batch at a fixed length (plus a constant launch cost), so the batch axis interpolates exactly
    /// and can be coarse.</summary>
    public double BatchGridRatio { get; init; } = Math.Sqrt(2);

    /// <summary>Ratio between neighbouring byte points (default 2). Communication costs are affine in the
    /// message size, so any grid interpolates them exactly.</summary>
    public double BytesGridRatio { get; init; } = 2;

    /// <summary>Creation time written into the profile; null means now (UTC). Fix it for reproducible files.</summary>
    public DateTime? CreatedUtc { get; init; }

    /// <summary>Throws <see cref="SpecException"/> naming the first out-of-range option.</summary>
    public void Validate()
    {
        static void Fraction(double v, string name)
        {
            if (!(v > 0 && v <= 1))
                throw new SpecException($"analytic options: {name} must be in (0, 1], got {ProfileAxis.Format(v)}");
        }
        static void AtLeast(double v, double min, string name)
        {
            if (!(v >= min) || double.IsInfinity(v))
                throw new SpecException($"analytic options: {name} must be finite and at least {ProfileAxis.Format(min)}, got {ProfileAxis.Format(v)}");
        }
        static void Ratio(double v, string name)
        {
            if (!(v > 1) || double.IsInfinity(v))
                throw new SpecException($"analytic options: {name} must be finite and greater than 1, got {ProfileAxis.Format(v)}");
        }
        Fraction(GemmComputeEfficiency, nameof(GemmComputeEfficiency));
        Fraction(AttentionComputeEfficiency, nameof(AttentionComputeEfficiency));
        Fraction(MemoryEfficiency, nameof(MemoryEfficiency));
        AtLeast(LaunchOverheadSeconds, 0, nameof(LaunchOverheadSeconds));
        AtLeast(MaxBatch, 1, nameof(MaxBatch));
        if (MaxLength is double length) AtLeast(length, 1, nameof(MaxLength));
        if (MaxTokens is double tokens) AtLeast(tokens, 1, nameof(MaxTokens));
        AtLeast(MaxBytes, 1, nameof(MaxBytes));
        Ratio(LengthGridRatio, nameof(LengthGridRatio));
        Ratio(BatchGridRatio, nameof(BatchGridRatio));
        Ratio(BytesGridRatio, nameof(BytesGridRatio));
    }
}
