namespace ExeGPT.Profiler;

/// <summary>One progress report of the profiler.</summary>
/// <param name="Done">Points measured so far.</param>
/// <param name="Total">Points in all.</param>
/// <param name="Point">The point just measured, e.g. "prefill tp=1 b=4 s=128".</param>
public readonly record struct ProfileProgress(int Done, int Total, string Point);
