using ExeGPT.Native.Interop;

namespace ExeGPT.Native;

/// <summary>How <see cref="Sampler"/> picks a token from a row of logits.</summary>
/// <param name="Greedy">Argmax (lowest index on ties); the other fields are then ignored.</param>
/// <param name="Temperature">Divides the logits; must be &gt; 0.</param>
/// <param name="TopK">Keep the K most likely tokens; 0 or less means no limit.</param>
/// <param name="TopP">Keep the smallest set whose probability reaches P, in (0, 1]; 1 means no limit.</param>
public readonly record struct SamplingOptions(bool Greedy, float Temperature = 1f, int TopK = 0, float TopP = 1f)
{
    /// <summary>Why these options cannot be sampled with, naming the bad value; null when they can (greedy always can).</summary>
    public string? Problem()
    {
        if (Greedy)
            return null;
        if (!(Temperature > 0) || !float.IsFinite(Temperature))
            return $"the sampling temperature must be a positive finite number (got {Temperature})";
        if (!(TopP > 0 && TopP <= 1))
            return $"the sampling top_p must lie in (0, 1] (got {TopP})";
        return null;
    }

    internal unsafe exg_sampling_params ToNative() => new()
    {
        struct_size = (uint)sizeof(exg_sampling_params),
        greedy = Greedy ? (byte)1 : (byte)0,
        temperature = Temperature,
        top_k = TopK,
        top_p = TopP,
    };
}
