using ExeGPT.Native.Interop;

namespace ExeGPT.Native.Handles;

/// <summary>Owns an <c>exg_comm*</c>; freed with <c>exg_comm_free</c>.</summary>
internal sealed unsafe class CommHandle : NativeHandle
{
    public exg_comm* Pointer => (exg_comm*)handle;

    protected override void Free(nint native) => NativeMethods.exg_comm_free((exg_comm*)native);
}
