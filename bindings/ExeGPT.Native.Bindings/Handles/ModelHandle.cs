using ExeGPT.Native.Interop;

namespace ExeGPT.Native.Handles;

/// <summary>Owns an <c>exg_model*</c>; freed with <c>exg_model_free</c>.</summary>
internal sealed unsafe class ModelHandle : NativeHandle
{
    public exg_model* Pointer => (exg_model*)handle;

    protected override void Free(nint native) => NativeMethods.exg_model_free((exg_model*)native);
}
