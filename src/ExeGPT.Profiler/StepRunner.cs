using ExeGPT.Native;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>Runs timed prefill and decode steps of (batch, length) on one cache, reusing its buffers.</summary>
internal sealed class StepRunner(Model model, KvCache cache, int vocab, int maxBatch, int maxLength)
{
    private readonly int[] _slots = new int[maxBatch];
    private readonly int[] _lens = new int[maxBatch];
    private readonly int[] _tokens = new int[maxBatch * maxLength];
    private readonly float[] _logits = new float[maxBatch * vocab];

    /// <summary>Prefills <paramref name="batch"/> prompts of <paramref name="length"/> tokens into fresh slots.</summary>
    public exg_step_timings Prefill(int batch, int length)
    {
        Allocate(batch);
        try
        {
            RunPrefill(batch, length);
            return model.LastStepTimings;
        }
        finally
        {
            Free(batch);
        }
    }

    /// <summary>Prefills contexts of <paramref name="context"/> − 1 tokens (untimed), then times
    /// <paramref name="steps"/> decode steps, the first attending over <paramref name="context"/> tokens.</summary>
    public exg_step_timings[] Decode(int batch, int context, int steps)
    {
        Allocate(batch);
        try
        {
            RunPrefill(batch, context - 1);
            var timings = new exg_step_timings[steps];
            for (int s = 0; s < steps; s++)
            {
                for (int i = 0; i < batch; i++) _tokens[i] = (s * 31 + i) % vocab;
                var step = new Batch { Slots = _slots.AsSpan(0, batch), TokenIds = _tokens.AsSpan(0, batch), LogitsOut = _logits.AsSpan(0, batch * vocab) };
                model.Decode(cache, in step);
                timings[s] = model.LastStepTimings;
            }
            return timings;
        }
        finally
        {
            Free(batch);
        }
    }

    private void RunPrefill(int batch, int length)
    {
        for (int i = 0; i < batch; i++) _lens[i] = length;
        for (int t = 0; t < batch * length; t++) _tokens[t] = (t * 7 + 3) % vocab;
        var prefill = new Batch
        {
            Slots = _slots.AsSpan(0, batch), SeqLens = _lens.AsSpan(0, batch),
            TokenIds = _tokens.AsSpan(0, batch * length), LogitsOut = _logits.AsSpan(0, batch * vocab),
        };
        model.Prefill(cache, in prefill);
    }

    private void Allocate(int batch)
    {
        for (int i = 0; i < batch; i++) _slots[i] = cache.AllocSlot();
    }

    private void Free(int batch)
    {
        for (int i = 0; i < batch; i++) cache.FreeSlot(_slots[i]);
    }
}
