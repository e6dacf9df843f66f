using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native.Internal;

/// <summary>The single path from a native status code to <see cref="ExgException"/>.</summary>
internal static unsafe class NativeStatus
{
    /// <summary>
    /// Throws when <paramref name="status"/> is a failure. Call it right after the native call, before any other
    /// exg_ call on this thread (releasing a handle counts): the message is thread-local and the next call may reset it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Check(exg_status status)
    {
        if (status != exg_status.EXG_OK)
            Throw(status);
    }

    [DoesNotReturn]
    [StackTraceHidden]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(exg_status status)
    {
        var message = Utf8.ToString(exg_last_error_message());
        throw new ExgException(status, message.Length > 0 ? message : Utf8.ToString(exg_status_name(status)));
    }
}
