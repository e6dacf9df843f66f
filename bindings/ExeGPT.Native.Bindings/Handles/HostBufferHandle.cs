using ExeGPT.Native.Interop;

namespace ExeGPT.Native.Handles;

/// <summary>Owns an <c>exg_host_buffer*</c>; freed with <c>exg_host_buffer_free</c>.</summary>
internal sealed unsafe class HostBufferHandle : NativeHandle
{
    public exg_host_buffer* Pointer => (exg_host_buffer*)handle;

    protected override void Free(nint native) => NativeMethods.exg_host_buffer_free((exg_host_buffer*)native);
}
