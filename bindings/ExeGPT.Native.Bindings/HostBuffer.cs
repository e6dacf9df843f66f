using System.Runtime.CompilerServices;
using ExeGPT.Native.Handles;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>
/// Host memory owned by the library (page-locked on CUDA backends, 64-byte aligned), exposed as spans so the
/// runner exchanges token ids and outputs with the engine without copies or managed allocations.
/// </summary>
public sealed unsafe class HostBuffer : IDisposable
{
    private readonly HostBufferHandle _handle;
    private readonly void* _data;

    private HostBuffer(HostBufferHandle handle)
    {
        _handle = handle;
        _data = exg_host_buffer_data(handle.Pointer);
        Size = exg_host_buffer_size(handle.Pointer);
    }

    /// <summary>Size in bytes.</summary>
    public ulong Size { get; }

    public static HostBuffer Allocate(Backend backend, ulong bytes)
    {
        ArgumentNullException.ThrowIfNull(backend);
        NativeLibraryLoader.EnsureLoaded();
        var handle = new HostBufferHandle();
        exg_host_buffer* native;
        using (backend.Handle.Lease())
            Check(exg_host_buffer_alloc(backend.Handle.Pointer, bytes, &native));
        handle.Attach((nint)native, backend.Handle);
        return new HostBuffer(handle);
    }

    /// <summary>The whole buffer as <typeparamref name="T"/> elements (a trailing partial element is left out).</summary>
    /// <remarks>The span points at native memory: do not use it after <see cref="Dispose"/>.</remarks>
    public Span<T> AsSpan<T>()
        where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_handle.IsDisposed, this);
        var count = Size / (ulong)Unsafe.SizeOf<T>();
        if (count > int.MaxValue)
            throw new InvalidOperationException($"The buffer holds {count} elements of {typeof(T).Name}, more than a span can address.");
        return new Span<T>(_data, (int)count);
    }

    public void Dispose() => _handle.Dispose();
}
