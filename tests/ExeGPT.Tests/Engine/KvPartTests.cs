namespace ExeGPT.Tests.Engine;

/// <summary>The range arithmetic a runner uses to decide which rows of which encoder shard each decoder shard needs.</summary>
[TestFixture]
public sealed class KvPartTests
{
    [Test]
    public void IntersectKeepsTheSharedLayersAndHeads()
    {
        var encoderStage = new KvPart(0, 2, 0, 8);
        var decoderRank = new KvPart(1, 4, 4, 8);
        Assert.That(encoderStage.Intersect(decoderRank), Is.EqualTo(new KvPart(1, 2, 4, 8)));
        Assert.That(decoderRank.Intersect(encoderStage), Is.EqualTo(new KvPart(1, 2, 4, 8)));
    }

    [TestCase(2, 4, 0, 4, TestName = "LayersOnlyTouch")]
    [TestCase(0, 2, 4, 8, TestName = "HeadsOnlyTouch")]
    [TestCase(3, 5, 1, 3, TestName = "LayersApart")]
    public void DisjointPartsIntersectEmpty(int layerBegin, int layerEnd, int headBegin, int headEnd)
    {
        var overlap = new KvPart(0, 2, 0, 4).Intersect(new KvPart(layerBegin, layerEnd, headBegin, headEnd));
        Assert.That(overlap.IsEmpty, Is.True);
        Assert.That(overlap, Is.EqualTo(default(KvPart)), "one empty value, so empty overlaps compare equal");
    }

    [Test]
    public void ContainsNeedsEveryRowInside()
    {
        var cache = new KvPart(1, 3, 2, 4);
        Assert.That(cache.Contains(cache), Is.True);
        Assert.That(cache.Contains(new KvPart(2, 3, 3, 4)), Is.True);
        Assert.That(cache.Contains(new KvPart(0, 3, 2, 4)), Is.False);
        Assert.That(cache.Contains(new KvPart(1, 3, 1, 3)), Is.False);
        Assert.That(cache.Contains(default), Is.False, "an empty part holds nothing to import");
    }
}
