using ExeGPT.Runtime;

namespace ExeGPT.Tests.Runtime;

/// <summary>Host generators over a checkpoint directory, sized for the test machine.</summary>
public static class Generators
{
    public static readonly SamplingOptions Greedy = new(Greedy: true);

    /// <summary>One CPU thread per TP rank keeps the test host responsive; a comm timeout well below the
    /// test's patience turns a hang between ranks into a failure.</summary>
    public static HostGenerator ForCheckpoint(string dir, int tp = 1, int stages = 1) => new(new GeneratorOptions
    {
        Model = ModelSource.FromCheckpoint(dir),
        TensorParallel = tp,
        Stages = stages,
        Threads = tp,
        CommTimeoutMs = 20000,
    });
}
