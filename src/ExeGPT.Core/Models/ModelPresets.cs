using System.Diagnostics.CodeAnalysis;

namespace ExeGPT.Core.Models;

/// <summary>Shapes of published models at fp16 (2 bytes per element): the paper's Table 1 and the common
/// open families. Shapes are those of the published configurations (Hugging Face config.json, or the
/// paper/model card where there is none); biases, norms and position tables are not counted.</summary>
public static class ModelPresets
{
    private const int Fp16 = 2;

    private static readonly ModelSpec[] All =
    [
        // The paper's Table 1 GPT-3 shapes (FFN 4h, GPT-2 vocabulary, 2048 positions, head dim 128).
        Gpt3("gpt3-39b", layers: 48, hidden: 8192, heads: 64),
        Gpt3("gpt3-101b", layers: 80, hidden: 10240, heads: 80),
        Gpt3("gpt3-175b", layers: 96, hidden: 12288, heads: 96),
        Gpt3("gpt3-341b", layers: 120, hidden: 15360, heads: 120),

        // OPT (facebook/opt-* configs; 175B from the OPT paper's Table 1). ReLU FFN of 4h, tied head.
        Opt("opt-125m", layers: 12, hidden: 768, heads: 12),
        Opt("opt-350m", layers: 24, hidden: 1024, heads: 16),   // its 512-wide embedding projection is ignored
        Opt("opt-1.3b", layers: 24, hidden: 2048, heads: 32),
        Opt("opt-2.7b", layers: 32, hidden: 2560, heads: 32),
        Opt("opt-6.7b", layers: 32, hidden: 4096, heads: 32),
        Opt("opt-13b", layers: 40, hidden: 5120, heads: 40),
        Opt("opt-30b", layers: 48, hidden: 7168, heads: 56),
        Opt("opt-66b", layers: 64, hidden: 9216, heads: 72),
        Opt("opt-175b", layers: 96, hidden: 12288, heads: 96),

        // LLaMA (Touvron et al. 2023 tables and the released configs): SwiGLU, untied head, RoPE.
        Llama("llama-7b", layers: 32, hidden: 4096, heads: 32, kvHeads: 32, ffn: 11008, vocab: 32000, positions: 2048),
        Llama("llama-13b", layers: 40, hidden: 5120, heads: 40, kvHeads: 40, ffn: 13824, vocab: 32000, positions: 2048),
        Llama("llama-33b", layers: 60, hidden: 6656, heads: 52, kvHeads: 52, ffn: 17920, vocab: 32000, positions: 2048),
        Llama("llama-65b", layers: 80, hidden: 8192, heads: 64, kvHeads: 64, ffn: 22016, vocab: 32000, positions: 2048),
        Llama("llama-2-7b", layers: 32, hidden: 4096, heads: 32, kvHeads: 32, ffn: 11008, vocab: 32000, positions: 4096),
        Llama("llama-2-13b", layers: 40, hidden: 5120, heads: 40, kvHeads: 40, ffn: 13824, vocab: 32000, positions: 4096),
        Llama("llama-2-70b", layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffn: 28672, vocab: 32000, positions: 4096),
        Llama("llama-3-8b", layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffn: 14336, vocab: 128256, positions: 8192),
        Llama("llama-3-70b", layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffn: 28672, vocab: 128256, positions: 8192),

        // Original T5 (t5-* configs: ReLU FFN, tied head). Positions are relative buckets, so any length
        // works; 2048 bounds planning like the decoder-only presets. t5-11b is the paper's "48 layers".
        T5("t5-small", layers: 6, hidden: 512, heads: 8, headDim: 64, ffn: 2048),
        T5("t5-base", layers: 12, hidden: 768, heads: 12, headDim: 64, ffn: 3072),
        T5("t5-large", layers: 24, hidden: 1024, heads: 16, headDim: 64, ffn: 4096),
        T5("t5-3b", layers: 24, hidden: 1024, heads: 32, headDim: 128, ffn: 16384),
        T5("t5-11b", layers: 24, hidden: 1024, heads: 128, headDim: 128, ffn: 65536),
    ];

    // Other spellings in common use.
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["llama-30b"] = "llama-33b",
    };

    private static readonly Dictionary<string, ModelSpec> ByName =
        All.ToDictionary(m => m.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Preset names, grouped by family.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(m => m.Name).ToArray();

    /// <summary>The preset <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="SpecException">Unknown name; the message lists the presets.</exception>
    public static ModelSpec Get(string name) =>
        TryGet(name, out ModelSpec? model)
            ? model
            : throw new SpecException($"unknown model '{name}' (known: {string.Join(", ", Names)})");

    /// <summary>The preset <paramref name="name"/> (case-insensitive), or false.</summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out ModelSpec? model)
    {
        model = null;
        if (name is null) return false;
        string key = name.Trim();
        if (Aliases.TryGetValue(key, out string? canonical)) key = canonical;
        return ByName.TryGetValue(key, out model);
    }

    private static ModelSpec Gpt3(string name, int layers, int hidden, int heads) =>
        new(name, ModelArchitecture.DecoderOnly, 0, layers, hidden, heads, heads, hidden / heads,
            4 * hidden, GatedFfn: false, Vocab: 50257, DtypeBytes: Fp16, MaxPositions: 2048, TiedEmbeddings: true);

    private static ModelSpec Opt(string name, int layers, int hidden, int heads) =>
        new(name, ModelArchitecture.DecoderOnly, 0, layers, hidden, heads, heads, hidden / heads,
            4 * hidden, GatedFfn: false, Vocab: 50272, DtypeBytes: Fp16, MaxPositions: 2048, TiedEmbeddings: true);

    private static ModelSpec Llama(string name, int layers, int hidden, int heads, int kvHeads, int ffn, int vocab, int positions) =>
        new(name, ModelArchitecture.DecoderOnly, 0, layers, hidden, heads, kvHeads, hidden / heads,
            ffn, GatedFfn: true, Vocab: vocab, DtypeBytes: Fp16, MaxPositions: positions, TiedEmbeddings: false);

    private static ModelSpec T5(string name, int layers, int hidden, int heads, int headDim, int ffn) =>
        new(name, ModelArchitecture.EncoderDecoder, layers, layers, hidden, heads, heads, headDim,
            ffn, GatedFfn: false, Vocab: 32128, DtypeBytes: Fp16, MaxPositions: 2048, TiedEmbeddings: true);
}
