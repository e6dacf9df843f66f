namespace ExeGPT.Core.Random;

/// <summary>Blackman and Vigna's xoshiro256** generator: our own, so a seed gives the same stream on every
/// runtime and platform (System.Random's algorithm is an implementation detail that may change).
/// Not thread-safe; not for cryptography.</summary>
public sealed class Xoshiro256StarStar
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the 256-bit state from <paramref name="seed"/> through <see cref="SplitMix64"/>
    /// (never all zero, which is the one state the generator cannot leave).</summary>
    public Xoshiro256StarStar(ulong seed)
    {
        var mix = new SplitMix64(seed);
        _s0 = mix.Next();
        _s1 = mix.Next();
        _s2 = mix.Next();
        _s3 = mix.Next();
    }

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform double in [0, 1): the top 53 bits scaled by 2^-53, so every value is exact.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="bound"/>) without modulo bias (Lemire's
    /// multiply-and-reject method).</summary>
    public int NextInt(int bound)
    {
        if (bound <= 0)
            throw new ArgumentOutOfRangeException(nameof(bound), bound, "the bound must be positive");
        // 64x32 -> 96-bit product; the high 64 bits (>> 32) are the candidate, the low 32 decide rejection.
        ulong threshold = (0x1_0000_0000UL - (ulong)bound) % (ulong)bound;
        while (true)
        {
            ulong r = NextUInt64() >> 32;
            ulong product = r * (ulong)bound;
            if ((product & 0xFFFF_FFFFUL) >= threshold)
                return (int)(product >> 32);
        }
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
