using ExeGPT.Native.Interop;

namespace ExeGPT.Native.Handles;

/// <summary>Owns an <c>exg_backend*</c>; freed with <c>exg_backend_free</c>.</summary>
internal sealed unsafe class BackendHandle : NativeHandle
{
    public exg_backend* Pointer => (exg_backend*)handle;

    protected override void Free(nint native) => NativeMethods.exg_backend_free((exg_backend*)native);
}
