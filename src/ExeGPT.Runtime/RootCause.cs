using ExeGPT.Native;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Runtime;

/// <summary>
/// Picks the exception worth reporting when several TP ranks fail together: once one rank fails
/// and aborts its group, its peers fail with EXG_ERR_COMM, which only echoes the real problem.
/// </summary>
public static class RootCause
{
    /// <summary>
    /// Flattens aggregates, then returns the first failure (in the given order, which should be
    /// the order they happened) that is not a collective failure; the first one when all are.
    /// </summary>
    /// <exception cref="ArgumentException">No exception given.</exception>
    public static Exception Select(IEnumerable<Exception> failuresInOrder)
    {
        ArgumentNullException.ThrowIfNull(failuresInOrder);
        Exception? first = null;
        foreach (Exception failure in failuresInOrder.SelectMany(Flatten))
        {
            first ??= failure;
            if (!IsCollectiveFailure(failure))
                return failure;
        }
        return first ?? throw new ArgumentException("No failure to choose from.", nameof(failuresInOrder));
    }

    /// <summary>True for failures that a peer's abort or a timed-out collective produces.</summary>
    public static bool IsCollectiveFailure(Exception failure) =>
        failure is ExgException { Status: exg_status.EXG_ERR_COMM };

    private static IEnumerable<Exception> Flatten(Exception failure) =>
        failure is AggregateException aggregate
            ? aggregate.InnerExceptions.SelectMany(Flatten)
            : [failure];
}
