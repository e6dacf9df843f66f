namespace ExeGPT.Tests.Support;

/// <summary>One pipeline stage of one rank: a model shard and its own KV cache.</summary>
public sealed record Stage(Model Model, KvCache Cache);

/// <summary>
/// Drives a chain of pipeline stages the way a runner does: the first stage takes token ids, every
/// non-last stage hands its hidden rows to the next, the last stage produces logits.
/// </summary>
public static class StagedRun
{
    /// <summary>One prefill (or decode, when <paramref name="seqLens"/> is null) step through all stages.</summary>
    public static float[] Step(IReadOnlyList<Stage> stages, int[] slots, int[]? seqLens, int[] tokens)
    {
        int rows = seqLens?.Sum() ?? slots.Length;
        float[] hidden = [];
        float[] logits = [];
        foreach (var stage in stages)
        {
            var info = stage.Model.Info;
            bool first = info.is_first_stage != 0;
            bool last = info.is_last_stage != 0;
            var output = last ? [] : new float[rows * info.config.hidden_size];
            logits = last ? new float[slots.Length * info.config.vocab_size] : [];
            var batch = new Batch
            {
                Slots = slots,
                SeqLens = seqLens,
                TokenIds = first ? tokens : default,
                HiddenIn = first ? default : hidden,
                HiddenOut = output,
                LogitsOut = logits,
            };
            if (seqLens is null)
            {
                stage.Model.Decode(stage.Cache, in batch);
            }
            else
            {
                stage.Model.Prefill(stage.Cache, in batch);
            }

            hidden = output;
        }

        return logits;
    }

    /// <summary>
    /// Prefills the prompts (slots 0..n-1 must be allocated in every stage's cache), then decodes the
    /// given teacher-forced tokens; returns the logits of the prefill and of every decode step.
    /// </summary>
    public static List<float[]> TeacherForced(IReadOnlyList<Stage> stages, int[][] prompts, int[][] decodeTokens)
    {
        int[] slots = [.. Enumerable.Range(0, prompts.Length)];
        var steps = new List<float[]>
        {
            Step(stages, slots, [.. prompts.Select(p => p.Length)], [.. prompts.SelectMany(p => p)]),
        };
        foreach (var tokens in decodeTokens)
        {
            steps.Add(Step(stages, slots, null, tokens));
        }

        return steps;
    }

    /// <summary>A cache on the model with slots 0..slots-1 already allocated.</summary>
    public static KvCache CacheWithSlots(Model model, int slots, int maxSeqLen)
    {
        var cache = new KvCache(model, slots, maxSeqLen);
        for (int i = 0; i < slots; i++)
        {
            cache.AllocSlot();
        }

        return cache;
    }
}
