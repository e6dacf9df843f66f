using ExeGPT.Native.Interop;

namespace ExeGPT.Native.Handles;

/// <summary>Owns an <c>exg_kv_cache*</c>; freed with <c>exg_kv_cache_free</c>.</summary>
internal sealed unsafe class KvCacheHandle : NativeHandle
{
    public exg_kv_cache* Pointer => (exg_kv_cache*)handle;

    protected override void Free(nint native) => NativeMethods.exg_kv_cache_free((exg_kv_cache*)native);
}
