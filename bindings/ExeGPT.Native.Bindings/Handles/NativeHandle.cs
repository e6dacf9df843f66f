using System.Runtime.InteropServices;

namespace ExeGPT.Native.Handles;

/// <summary>
/// Owns one native object and keeps the objects it depends on alive: a model needs its backend (and comm), a cache
/// needs its model. Each dependency is AddRef'd for this handle's lifetime, so disposing a backend while a model on it
/// is alive only marks it disposed; the native free happens after the last dependent is released.
/// </summary>
internal abstract class NativeHandle : SafeHandle
{
    private SafeHandle[] _dependencies = [];
    private volatile bool _disposed;

    protected NativeHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>
    /// True once the owner disposed it. SafeHandle itself only refuses new references after the native object is
    /// freed, which a dependent (a cache on this model) can postpone; the owner's calls must fail right away.
    /// </summary>
    public bool IsDisposed => _disposed;

    /// <summary>Takes ownership of a freshly created native object; frees it if a dependency is already disposed.</summary>
    public void Attach(nint native, params ReadOnlySpan<SafeHandle?> dependencies)
    {
        var held = new List<SafeHandle>(dependencies.Length);
        try
        {
            foreach (var dependency in dependencies)
            {
                if (dependency is null)
                    continue;
                var added = false;
                dependency.DangerousAddRef(ref added);
                held.Add(dependency);
            }
        }
        catch
        {
            foreach (var dependency in held)
                dependency.DangerousRelease();
            Free(native);
            throw;
        }
        _dependencies = [.. held];
        SetHandle(native);
    }

    /// <summary>Keeps the native object alive for the duration of one call; throws if the handle is disposed.</summary>
    public HandleLease Lease() => new(this);

    protected abstract void Free(nint native);

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    protected sealed override bool ReleaseHandle()
    {
        Free(handle);
        foreach (var dependency in _dependencies)
            dependency.DangerousRelease();
        return true;
    }
}

/// <summary>A reference on a <see cref="SafeHandle"/> held across a native call (the manual form of what SafeHandle marshalling does).</summary>
internal ref struct HandleLease
{
    private SafeHandle? _handle;

    public HandleLease(NativeHandle handle)
    {
        ObjectDisposedException.ThrowIf(handle.IsDisposed, handle);
        var added = false;
        handle.DangerousAddRef(ref added); // ObjectDisposedException once the owner was disposed
        _handle = handle;
    }

    public void Dispose()
    {
        _handle?.DangerousRelease();
        _handle = null;
    }
}
