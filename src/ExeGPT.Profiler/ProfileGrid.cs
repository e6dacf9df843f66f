using ExeGPT.Core;

namespace ExeGPT.Profiler;

/// <summary>The measurement grid: every (batch, length) pair is timed for prefill attention (length = prompt)
/// and for decode attention (length = context); the rest of a layer is indexed by the tokens it processed.</summary>
/// <param name="Batches">Decode batch sizes, increasing (also the prefill batch sizes unless
/// <paramref name="PrefillBatches"/> is given).</param>
/// <param name="Lengths">Prompt lengths and decode contexts, increasing.</param>
/// <param name="Repeats">Timed runs per point (the median is kept, the spread recorded).</param>
/// <param name="Warmup">Untimed runs before the first point (page faults, thread pools, caches).</param>
/// <param name="PrefillBatches">Prefill (encoder) batch sizes, increasing, when they differ from the decode batches:
/// a decoder's running batch gathers many encoded batches, so it outgrows them. They also size the KV hand-offs.</param>
public sealed record ProfileGrid(IReadOnlyList<int> Batches, IReadOnlyList<int> Lengths, int Repeats = 3, int Warmup = 1,
    IReadOnlyList<int>? PrefillBatches = null)
{
    /// <summary>The prefill batch sizes: <see cref="PrefillBatches"/>, else <see cref="Batches"/>.</summary>
    public IReadOnlyList<int> PrefillRows => PrefillBatches ?? Batches;

    /// <summary>The largest batch of either phase (slots a cache needs).</summary>
    public int MaxBatch => Math.Max(Batches[^1], PrefillRows[^1]);

    /// <summary>A grid small enough for a CPU rank to measure in about a minute for a small model.</summary>
    public static ProfileGrid CpuDefault { get; } = new([1, 2, 4, 8, 16], [16, 32, 64, 128, 256]);

    /// <summary>Throws <see cref="SpecException"/> naming the first bad value.</summary>
    public void Validate(int maxPositions)
    {
        Increasing(Batches, "batch sizes");
        if (PrefillBatches is not null)
            Increasing(PrefillBatches, "prefill batch sizes");
        Increasing(Lengths, "lengths");
        if (Lengths[^1] + Repeats > maxPositions)
            throw new SpecException(
                $"profile grid: length {Lengths[^1]} plus {Repeats} decode steps exceeds the model's {maxPositions} positions");
        if (Repeats < 1 || Warmup < 0)
            throw new SpecException($"profile grid: repeats must be >= 1 and warm-up >= 0 (got {Repeats}, {Warmup})");
    }

    private static void Increasing(IReadOnlyList<int> values, string what)
    {
        if (values.Count == 0)
            throw new SpecException($"profile grid: no {what}");
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i] < 1)
                throw new SpecException($"profile grid: {what} must be positive, got {values[i]}");
            if (i > 0 && values[i] <= values[i - 1])
                throw new SpecException($"profile grid: {what} must increase, got {values[i - 1]} then {values[i]}");
        }
    }
}
