namespace ExeGPT.Profiler;

/// <summary>Counts measured points and reports each to the caller's progress sink.</summary>
internal sealed class ProgressCounter(int total, IProgress<ProfileProgress>? sink)
{
    private int _done;

    public void Report(string point) => sink?.Report(new ProfileProgress(++_done, total, point));
}
