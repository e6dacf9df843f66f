using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ExeGPT.Native.Internal;

/// <summary>Strings across the boundary are UTF-8; conversions are done here instead of by a marshaller.</summary>
internal static unsafe class Utf8
{
    /// <summary>Copies a NUL-terminated UTF-8 string owned by the library; null becomes "".</summary>
    public static string ToString(byte* value) => value == null ? "" : Marshal.PtrToStringUTF8((nint)value) ?? "";
}

/// <summary>
/// A NUL-terminated UTF-8 copy of a string for one native call: in the caller's stack buffer when it fits,
/// otherwise in a pooled array. Pin it with <c>fixed</c>; a null string pins as a null pointer.
/// </summary>
internal ref struct Utf8String
{
    private byte[]? _rented;
    private readonly Span<byte> _bytes;

    public Utf8String(string? value, Span<byte> scratch, string paramName)
    {
        if (value is null)
            return;
        // An embedded NUL would silently cut the string short on the native side.
        if (value.Contains('\0', StringComparison.Ordinal))
            throw new ArgumentException("The string contains a NUL character.", paramName);
        var capacity = Encoding.UTF8.GetMaxByteCount(value.Length) + 1;
        var buffer = capacity <= scratch.Length ? scratch : (_rented = ArrayPool<byte>.Shared.Rent(capacity));
        var length = Encoding.UTF8.GetBytes(value, buffer);
        buffer[length] = 0;
        _bytes = buffer[..(length + 1)];
    }

    public readonly ref byte GetPinnableReference() =>
        ref _bytes.IsEmpty ? ref Unsafe.NullRef<byte>() : ref MemoryMarshal.GetReference(_bytes);

    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
        }
    }
}
