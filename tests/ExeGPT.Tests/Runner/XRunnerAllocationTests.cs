using ExeGPT.Runner;
using ExeGPT.Runtime;
using ExeGPT.Simulator;

namespace ExeGPT.Tests.Runner;

/// <summary>The zero-copy contract on the runner: once the batch is decoding, a pass through the pipeline (stage
/// hand-overs, sampling, early termination bookkeeping) allocates nothing on the managed heap. The observer reads the
/// process-wide allocation counter at two tokens of one request; everything between is decode passes.</summary>
[TestFixture]
[NonParallelizable]
public sealed class XRunnerAllocationTests
{
    private sealed class Probe(int request, int from, int to) : IRunObserver
    {
        private int _seen;
        public long Before, After;

        public void OnToken(int r, int token)
        {
            if (r != request)
                return;
            _seen++;
            if (_seen == from)
                Before = GC.GetTotalAllocatedBytes(precise: false);
            else if (_seen == to)
                After = GC.GetTotalAllocatedBytes(precise: false);
        }

        public void OnFinished(int r) { }
    }

    private static IEnumerable<TestCaseData> Layouts()
    {
        // N_D covers every step: after the one encode, only decode passes run.
        yield return new TestCaseData(new ExecutionLayout(new Schedule(Policy.Rra, 4, 400), [new(0, 1, 0, 1), new(1, 1, 1, 2)], []))
            .SetArgDisplayNames("rra 2 stages, 2 micro-batches");
        yield return new TestCaseData(new ExecutionLayout(new Schedule(Policy.Rra, 4, 400, TpDegree: 2, TpGroups: 1), [new(0, 2, 0, 2)], []))
            .SetArgDisplayNames("rra tp2");
        yield return new TestCaseData(new ExecutionLayout(new Schedule(Policy.WaaC, 4), [new(1, 1, 0, 2)], [new(0, 1, 0, 2)]))
            .SetArgDisplayNames("waa 1+1");
    }

    [TestCaseSource(nameof(Layouts))]
    public void DecodePassesAllocateNothing(ExecutionLayout layout)
    {
        using var runner = new XRunner(layout, new RunnerOptions { Model = ModelSource.Resolve("tiny"), ThreadsPerDevice = 1 });
        // Two requests finish early (early termination inside the window), two run long.
        RunRequest[] requests = [new([2, 5, 7, 9], 100), new([3, 4], 40), new([6, 8, 10], 100), new([11], 60)];
        runner.Run(requests);   // JIT, caches, buffers
        var probe = new Probe(request: 0, from: 20, to: 84);
        runner.Run(requests, probe);

        long bytes = probe.After - probe.Before;
        // 64 decode iterations: one 24-byte object per pass would already be 3 KB.
        Assert.That(bytes, Is.LessThan(1024), $"64 decode iterations allocated {bytes} bytes on the managed heap");
    }
}
