using ExeGPT.Native.Internal;

namespace ExeGPT.Tests.Support;

/// <summary>
/// Calls exg_model_prefill directly with a caller-built batch, past the safe layer's own checks (which refuse
/// e.g. a zero length before the call), so the library's validation is tested too: C callers have no safe layer.
/// Failures still surface as <see cref="ExgException"/> through the bindings' one status path.
/// </summary>
public static unsafe class UncheckedNative
{
    public static void Prefill(Model model, KvCache cache, int[] slots, int[] seqLens, int[] tokens, float[] logits)
    {
        fixed (int* s = slots)
        fixed (int* l = seqLens)
        fixed (int* t = tokens)
        fixed (float* o = logits)
        {
            var batch = new exg_batch
            {
                struct_size = (uint)sizeof(exg_batch),
                num_seqs = slots.Length,
                slots = s,
                seq_lens = l,
                token_ids = t,
                logits_out = o,
            };
            using var modelLease = model.Handle.Lease();
            using var cacheLease = cache.Handle.Lease();
            NativeStatus.Check(exg_model_prefill(model.Handle.Pointer, cache.Handle.Pointer, &batch));
        }
    }
}
