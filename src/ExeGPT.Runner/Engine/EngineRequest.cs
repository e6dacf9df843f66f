using ExeGPT.Native;

namespace ExeGPT.Runner;

/// <summary>One generation request to an <see cref="ExeGptEngine"/>: the prompt's token ids, how many tokens to
/// generate at most (fewer when the engine's end-of-sequence token comes first), and how to pick them (null:
/// greedy).</summary>
public sealed record EngineRequest(int[] PromptTokens, int MaxNewTokens, SamplingOptions? Sampling = null);
