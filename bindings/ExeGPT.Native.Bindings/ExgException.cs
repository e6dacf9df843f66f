using ExeGPT.Native.Interop;

namespace ExeGPT.Native;

/// <summary>A native call failed; <see cref="Exception.Message"/> is the library's message for the failure.</summary>
public sealed class ExgException : Exception
{
    public ExgException(exg_status status, string message)
        : base(message)
    {
        Status = status;
    }

    /// <summary>The status code the native call returned.</summary>
    public exg_status Status { get; }
}
