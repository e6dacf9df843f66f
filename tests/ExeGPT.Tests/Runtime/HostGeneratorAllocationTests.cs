using ExeGPT.Runtime;

namespace ExeGPT.Tests.Runtime;

/// <summary>The design's zero-copy contract: the steady-state decode loop allocates nothing on the
/// managed heap (ids, slots, lengths and logits live in native host buffers).</summary>
[TestFixture]
[NonParallelizable]
public sealed class HostGeneratorAllocationTests
{
    [Test]
    public void DecodeStepsAllocateNothing()
    {
        using var generator = new HostGenerator(new GeneratorOptions
        {
            Model = ModelSource.Resolve("tiny"),
            TensorParallel = 1,  // rank 0 runs inline: everything is allocated on this thread
            Stages = 2,
            Threads = 1,
        });
        int[][] prompts = [[2, 5, 7, 9], [2, 11, 13, 17]];
        const int shortRun = 8, longRun = 72;
        generator.Generate(prompts, longRun, Generators.Greedy, seed: 1, captureLogits: false);  // sizes caches, JIT

        long Allocated(int newTokens)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            generator.Generate(prompts, newTokens, Generators.Greedy, seed: 1, captureLogits: false);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Allocated(shortRun);
        long extra = Allocated(longRun) - Allocated(shortRun);

        // 64 more steps return 2 x 64 more ids (512 bytes of output arrays). One 24-byte object per
        // step would add at least 1536 bytes.
        Assert.That(extra, Is.LessThan(1536), $"64 extra decode steps allocated {extra} bytes");
    }
}
