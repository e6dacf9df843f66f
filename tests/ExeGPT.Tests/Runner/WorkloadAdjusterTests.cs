using ExeGPT.Runner;
using ExeGPT.Runtime;
using ExeGPT.Simulator;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runner;

/// <summary>The paper's dynamic workload adjustment (§5.2): encoder batches keep their summed input length within the
/// threshold of B_E × the mean input (rule 1), and the effective B_E moves against decode-batch drift (rule 2).</summary>
public sealed class WorkloadAdjusterTests
{
    [Test]
    public void BatchesLandInTheBandWhenTheQueueAllowsIt()
    {
        // Lengths with a wide spread (20..280) in a fixed pseudo-random order.
        var random = new Random(7);
        var queue = Enumerable.Range(0, 400).Select(_ => random.Next(1, 15) * 20).ToList();
        var adjuster = new WorkloadAdjuster(new AdjustmentOptions(), encoderBatch: 4, meanInput: queue.Average(), decodeTarget: 0);
        var skips = new List<int>(queue.Select(_ => 0));
        var (low, high) = adjuster.Band;
        int[] picked = new int[16];
        int batches = 0;
        while (queue.Count > 40)
        {
            int n = adjuster.Pick(queue.ToArray(), skips.ToArray(), picked, maxCount: 16);
            int sum = picked[..n].Sum(i => queue[i]);
            Assert.That(sum, Is.InRange(low, high), $"batch {batches}: {string.Join("+", picked[..n].Select(i => queue[i]))}");
            for (int i = 0, k = 0; i <= picked[n - 1]; i++)
                if (k < n && picked[k] == i) k++; else skips[i]++;
            for (int k = n - 1; k >= 0; k--)
            {
                queue.RemoveAt(picked[k]);
                skips.RemoveAt(picked[k]);
            }
            Assert.That(skips.Max(), Is.LessThanOrEqualTo(3), "no query is passed over indefinitely");
            batches++;
        }
    }

    [Test]
    public void DisabledTakesExactlyBeInArrivalOrder()
    {
        var adjuster = new WorkloadAdjuster(new AdjustmentOptions(Enabled: false), encoderBatch: 3, meanInput: 10, decodeTarget: 0);
        int[] picked = new int[8];
        int n = adjuster.Pick([500, 1, 1, 1, 1], [0, 0, 0, 0, 0], picked, maxCount: 8);
        Assert.That(picked[..n], Is.EqualTo(new[] { 0, 1, 2 }));
    }

    [Test]
    public void DecodeDriftNudgesTheEncoderBatch()
    {
        var adjuster = new WorkloadAdjuster(new AdjustmentOptions(DecoderThreshold: 0.25), encoderBatch: 8, meanInput: 10, decodeTarget: 100);
        adjuster.ObserveDecodeBatch(50);   // far below target: encode more
        adjuster.ObserveDecodeBatch(50);
        Assert.That(adjuster.Batch, Is.EqualTo(10));
        adjuster.ObserveDecodeBatch(100);  // on target: back toward B_E
        Assert.That(adjuster.Batch, Is.EqualTo(9));
        for (int i = 0; i < 10; i++)
            adjuster.ObserveDecodeBatch(200);  // far above: encode less, bounded
        Assert.That(adjuster.Batch, Is.EqualTo(4));
    }

    [Test]
    public void ARunKeepsEveryFullEncoderBatchInTheBand()
    {
        var layout = new ExecutionLayout(new Schedule(Policy.Rra, 4, 3), [new(0, 1, 0, 2)], []);
        using var runner = new XRunner(layout, new RunnerOptions
        {
            Model = ModelSource.Resolve("tiny"),
            ThreadsPerDevice = 1,
            Adjustment = new AdjustmentOptions(DecoderThreshold: double.PositiveInfinity),   // rule 1 alone
        });
        var random = new Random(3);
        RunRequest[] requests = [.. Enumerable.Range(0, 80).Select(i => new RunRequest(Run.Tokens(random.Next(1, 13) * 2, 128, 700 + i), 3))];
        RunResult result = runner.Run(requests);
        double mean = requests.Average(r => r.Prompt.Length), low = 4 * mean * 0.9, high = 4 * mean * 1.1;
        // The last batches take what is left; every batch formed from a deep enough queue must be in the band.
        var full = result.EncoderBatches.Take(result.EncoderBatches.Count - 6).ToList();
        Assert.That(full, Has.Count.GreaterThan(8));
        foreach (EncoderBatchRecord b in full)
            Assert.That(b.InputTokens, Is.InRange(low, high), $"batch of {b.Queries} with {b.InputTokens} input tokens");
    }
}
