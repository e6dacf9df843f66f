namespace ExeGPT.Core.Workloads;

/// <summary>Turns what a user types for a workload into a <see cref="WorkloadSpec"/>: a Table 3 task id
/// ("S", "T", "G", "C1", "C2") or the path of a trace file (.csv, .jsonl, .json).</summary>
public static class WorkloadResolver
{
    /// <summary>The task preset named <paramref name="taskOrPath"/>, else the trace at that path.</summary>
    /// <exception cref="SpecException">Neither a task id nor an existing file (the message lists the ids),
    /// or a trace that does not load.</exception>
    public static WorkloadSpec Resolve(string taskOrPath)
    {
        if (string.IsNullOrWhiteSpace(taskOrPath))
            throw new SpecException($"workload: empty name (expected a task id {string.Join(", ", TaskPresets.Names)} or a trace file)");
        if (TaskPresets.TryGet(taskOrPath, out WorkloadSpec? task))
            return task;
        if (File.Exists(taskOrPath))
            return TraceReader.Load(taskOrPath);
        throw new SpecException(
            $"workload '{taskOrPath}' is neither a task id ({string.Join(", ", TaskPresets.Names)}) nor an existing trace file (.csv, .jsonl, .json)");
    }
}
