using System.Diagnostics;
using ExeGPT.Native;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>Runs timed prefill and decode steps of (batch, length) on one cache, reusing its buffers. Before every
/// timed step on the CPU the caches are flushed: a real model streams many layers' weights and KV through them, so each
/// layer finds its own cold, while a one-layer profile would otherwise find everything still cached from the last repeat
/// (measured on a 32 MiB L3: a TP-2 decode step timed ~2x too fast). Decode steps also time the greedy sampling of
/// their rows and add it to <c>outside_layers_seconds</c>, the last stage's per-step work outside the layers. On a
/// device (<paramref name="onDevice"/>) the steps keep their logits there and sampling runs there too, as the runner
/// does it; host caches are not flushed then (the device's weights and KV do not go through them).</summary>
internal sealed class StepRunner(Model model, KvCache cache, int vocab, int maxBatch, int maxLength, bool onDevice)
{
    /// <summary>Bytes written between timed steps: twice the last-level cache of the machines we profile on.</summary>
    private const int FlushBytes = 64 << 20;
    private static readonly SamplingOptions Greedy = new(Greedy: true);
    private readonly byte[] _flush = onDevice ? [] : GC.AllocateUninitializedArray<byte>(FlushBytes);
    private readonly ulong[] _rng = new ulong[maxBatch];
    private readonly int[] _sampled = new int[maxBatch];
    private byte _flushValue;
    private readonly int[] _slots = new int[maxBatch];
    private readonly int[] _lens = new int[maxBatch];
    private readonly int[] _tokens = new int[maxBatch * maxLength];
    private readonly float[] _logits = onDevice ? [] : new float[maxBatch * vocab];
    private int _decodeBatch, _decodeLength; // the sequences a decode sweep is extending (0: none)

    /// <summary>The cache the steps run on.</summary>
    public KvCache Cache => cache;

    /// <summary>Slots of the last <see cref="PrefillKept"/>.</summary>
    public ReadOnlySpan<int> Slots => _slots;

    /// <summary>Prefills <paramref name="batch"/> prompts of <paramref name="length"/> tokens into fresh slots.</summary>
    public exg_step_timings Prefill(int batch, int length)
    {
        FlushCaches();
        PrefillKept(batch, length);
        try
        {
            return model.LastStepTimings;
        }
        finally
        {
            Free(batch);
        }
    }

    /// <summary>Times <paramref name="steps"/> decode steps of <paramref name="batch"/> sequences, the first attending
    /// over <paramref name="context"/> tokens. Successive calls with the same batch and growing contexts extend the
    /// same sequences (an untimed prefill appends the missing tokens), so a sweep over contexts prefills each
    /// sequence once rather than once per context; <see cref="EndDecode"/> frees them.</summary>
    public exg_step_timings[] Decode(int batch, int context, int steps)
    {
        if (_decodeBatch != batch || _decodeLength > context - 1)
        {
            EndDecode();
            for (int i = 0; i < batch; i++) _slots[i] = cache.AllocSlot();
            _decodeBatch = batch;
            _decodeLength = 0;
        }
        try
        {
            if (context - 1 > _decodeLength)
                RunPrefill(batch, context - 1 - _decodeLength);
            _decodeLength = context - 1;
            // The first timed step must attend over exactly `context` tokens: check the cache agrees.
            if (cache.SeqLen(_slots[0]) != _decodeLength)
                throw new InvalidOperationException(
                    $"decode sweep: slot {_slots[0]} holds {cache.SeqLen(_slots[0])} tokens, expected {_decodeLength}");
            var timings = new exg_step_timings[steps];
            for (int s = 0; s < steps; s++)
            {
                for (int i = 0; i < batch; i++) _tokens[i] = (s * 31 + i) % vocab;
                var step = new Batch { Slots = _slots.AsSpan(0, batch), TokenIds = _tokens.AsSpan(0, batch), LogitsOut = Logits(batch) };
                FlushCaches();
                model.Decode(cache, in step);
                _decodeLength++;
                timings[s] = model.LastStepTimings;
                long sampling = Stopwatch.GetTimestamp();
                if (onDevice)
                    model.Sample(Greedy, _rng.AsSpan(0, batch), _sampled.AsSpan(0, batch));
                else
                    Sampler.Sample(_logits.AsSpan(0, batch * vocab), batch, vocab, Greedy, _rng.AsSpan(0, batch), _sampled.AsSpan(0, batch));
                timings[s].outside_layers_seconds += Stopwatch.GetElapsedTime(sampling).TotalSeconds;
            }
            return timings;
        }
        catch
        {
            EndDecode();
            throw;
        }
    }

    /// <summary>Where a step of <paramref name="batch"/> rows writes its logits: nowhere on a device (kept there).</summary>
    private Span<float> Logits(int batch) => onDevice ? default : _logits.AsSpan(0, batch * vocab);

    private void FlushCaches()
    {
        if (onDevice)
            return;
        _flushValue++;
        _flush.AsSpan().Fill(_flushValue);
    }

    /// <summary>Frees the sequences of the last <see cref="Decode"/> calls.</summary>
    public void EndDecode()
    {
        if (_decodeBatch > 0)
            Free(_decodeBatch);
        _decodeBatch = 0;
    }

    /// <summary>Prefills <paramref name="batch"/> prompts of <paramref name="length"/> tokens into fresh slots
    /// (<see cref="Slots"/>) and keeps them; <see cref="Free"/> releases them.</summary>
    public void PrefillKept(int batch, int length)
    {
        EndDecode();
        for (int i = 0; i < batch; i++) _slots[i] = cache.AllocSlot();
        try
        {
            RunPrefill(batch, length);
        }
        catch
        {
            Free(batch);
            throw;
        }
    }

    /// <summary>Appends <paramref name="length"/> tokens to each of the first <paramref name="batch"/> slots.</summary>
    private void RunPrefill(int batch, int length)
    {
        for (int i = 0; i < batch; i++) _lens[i] = length;
        for (int t = 0; t < batch * length; t++) _tokens[t] = (t * 7 + 3) % vocab;
        var prefill = new Batch
        {
            Slots = _slots.AsSpan(0, batch), SeqLens = _lens.AsSpan(0, batch),
            TokenIds = _tokens.AsSpan(0, batch * length), LogitsOut = Logits(batch),
        };
        model.Prefill(cache, in prefill);
    }

    /// <summary>Frees the first <paramref name="batch"/> slots of <see cref="Slots"/>.</summary>
    public void Free(int batch)
    {
        for (int i = 0; i < batch; i++) cache.FreeSlot(_slots[i]);
    }
}
