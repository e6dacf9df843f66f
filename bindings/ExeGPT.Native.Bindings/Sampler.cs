using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>Token sampling with per-sequence random streams, done by the library so every backend samples alike.</summary>
public static unsafe class Sampler
{
    /// <summary>The initial state of a sequence's random stream; <paramref name="stream"/> keeps sequences of one seed independent.</summary>
    public static ulong RngInit(ulong seed, ulong stream)
    {
        NativeLibraryLoader.EnsureLoaded();
        return exg_rng_init(seed, stream);
    }

    /// <summary>Picks one token per row of <paramref name="logits"/> [rows x vocab]; each row's rng state advances.</summary>
    /// <exception cref="ArgumentException">A span's length is not rows x vocab (logits) or rows (states, tokens).</exception>
    public static void Sample(ReadOnlySpan<float> logits, int rows, int vocab, in SamplingOptions options,
        Span<ulong> rngStates, Span<int> tokensOut)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocab);
        if (logits.Length != (long)rows * vocab)
            throw new ArgumentException($"logits has {logits.Length} elements; rows x vocab is {(long)rows * vocab}.", nameof(logits));
        if (rngStates.Length != rows)
            throw new ArgumentException($"rngStates has {rngStates.Length} entries; one per row ({rows}) is needed.", nameof(rngStates));
        if (tokensOut.Length != rows)
            throw new ArgumentException($"tokensOut has {tokensOut.Length} entries; one per row ({rows}) is needed.", nameof(tokensOut));
        NativeLibraryLoader.EnsureLoaded();
        exg_sampling_params parameters = options.ToNative();
        fixed (float* l = logits)
        fixed (ulong* states = rngStates)
        fixed (int* tokens = tokensOut)
            Check(exg_sample(l, rows, vocab, &parameters, states, tokens));
    }
}
