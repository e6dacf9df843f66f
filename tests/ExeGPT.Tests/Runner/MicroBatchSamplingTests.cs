using ExeGPT.Runner;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Runner;

/// <summary>Which micro-batches a CUDA last stage may sample on the device in one call: those whose live rows all
/// sample by one rule (rows of other rules take their logits to the host, each sampled by its own rule).</summary>
[TestFixture]
public sealed class MicroBatchSamplingTests
{
    private static readonly SamplingOptions Greedy = new(Greedy: true);
    private static readonly SamplingOptions Hot = new(Greedy: false, Temperature: 1.5f, TopK: 10);

    [Test]
    public void Rows_of_one_rule_share_it_and_mixed_rows_do_not()
    {
        using Backend backend = LoadedModel.CpuBackend();
        using var mb = new MicroBatch(backend, stages: 1, maxTp: 1, hidden: 8, vocab: 16);
        mb.EnsureCapacity(rows: 4, tokens: 4);

        Assert.That(mb.TryGetSharedSampling(out SamplingOptions shared), Is.True, "no rows");
        Assert.That(shared, Is.EqualTo(Greedy), "an empty batch defaults to greedy");

        mb.AddRow(Request(0, Hot), -1, 1, null);
        mb.AddRow(Request(1, Hot), -1, 1, null);
        Assert.That(mb.TryGetSharedSampling(out shared), Is.True);
        Assert.That(shared, Is.EqualTo(Hot));

        mb.AddRow(Request(2, null), -1, 1, null);
        Assert.That(mb.TryGetSharedSampling(out _), Is.False, "a greedy row among sampled ones");

        mb.Request[2] = null; // padding (a finished row kept by static batching) has no rule
        Assert.That(mb.TryGetSharedSampling(out shared), Is.True);
        Assert.That(shared, Is.EqualTo(Hot));
    }

    private static RequestState Request(int index, SamplingOptions? sampling) =>
        new(index, new RunRequest([1, 2], 3, sampling), seed: 1, observer: null, queued: 0);
}
