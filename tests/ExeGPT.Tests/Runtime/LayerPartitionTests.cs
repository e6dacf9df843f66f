using ExeGPT.Runtime;

namespace ExeGPT.Tests.Runtime;

/// <summary>Contiguous, covering layer ranges; the remainder goes to the earlier stages.</summary>
[TestFixture]
public sealed class LayerPartitionTests
{
    private static IEnumerable<TestCaseData> Splits()
    {
        yield return new TestCaseData(12, 1, new[] { (0, 12) });
        yield return new TestCaseData(12, 4, new[] { (0, 3), (3, 6), (6, 9), (9, 12) });
        yield return new TestCaseData(7, 3, new[] { (0, 3), (3, 5), (5, 7) });
        yield return new TestCaseData(10, 4, new[] { (0, 3), (3, 6), (6, 8), (8, 10) });
        yield return new TestCaseData(2, 2, new[] { (0, 1), (1, 2) });
        yield return new TestCaseData(5, 5, new[] { (0, 1), (1, 2), (2, 3), (3, 4), (4, 5) });
        yield return new TestCaseData(96, 7, new[] { (0, 14), (14, 28), (28, 42), (42, 56), (56, 70), (70, 83), (83, 96) });
    }

    [TestCaseSource(nameof(Splits))]
    public void SplitsEvenlyWithRemainderFirst(int layers, int stages, (int Begin, int End)[] expected)
    {
        var ranges = LayerPartition.Split(layers, stages);
        Assert.That(ranges.Select(r => (r.Begin, r.End)), Is.EqualTo(expected));
        Assert.That(ranges.Select(r => r.Count), Is.EqualTo(expected.Select(e => e.End - e.Begin)));
    }

    [TestCase(2, 3)]
    [TestCase(1, 2)]
    public void MoreStagesThanLayersIsAnError(int layers, int stages)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => LayerPartition.Split(layers, stages))!;
        Assert.That(ex.ParamName, Is.EqualTo("stages"));
    }

    [TestCase(4, 0)]
    [TestCase(4, -1)]
    [TestCase(0, 1)]
    public void NonPositiveCountsAreErrors(int layers, int stages)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerPartition.Split(layers, stages));
    }
}
