using ExeGPT.Core;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Planning.Tests.Profiles;

public sealed class InterpolationTests
{
    private static ProfileTables Measured() => ProfileJson.ReadFromString(ProfileFixtures.MeasuredJson, "fixture");

    [Test]
    public void GridPointsComeBackExactly()
    {
        ProfileTables p = Measured();
        Assert.Multiple(() =>
        {
            Assert.That(p.PrefillAttention(1, 1, 16), Is.EqualTo(1));
            Assert.That(p.PrefillAttention(1, 4, 64), Is.EqualTo(6));
            Assert.That(p.PrefillAttention(1, 4, 256), Is.EqualTo(12));
            Assert.That(p.PrefillAttention(2, 1, 256), Is.EqualTo(2));
            Assert.That(p.PrefillRest(1, 1000), Is.EqualTo(10.5));
            Assert.That(p.DecodeAttention(1, 4, 16), Is.EqualTo(2));
            Assert.That(p.DecodeRest(2, 100), Is.EqualTo(1));
            Assert.That(p.AllReduce(2, 1025), Is.EqualTo(0.002));
            Assert.That(p.Send(LinkClass.HostStaged, 1001), Is.EqualTo(4));
        });
    }

    [Test]
    public void BetweenPointsIsLinearAndBilinear()
    {
        ProfileTables p = Measured();
        Assert.Multiple(() =>
        {
            // batch 2.5 is halfway in [1, 4]; seq 40 halfway in [16, 64]: rows give 1.5 and 4.5, their mean is 3.
            Assert.That(p.PrefillAttention(1, 2.5, 40), Is.EqualTo(3.0).Within(1e-12));
            // Along a grid line the other axis is linear: batch 1, seq 160 is halfway in [64, 256]: (2 + 4) / 2.
            Assert.That(p.PrefillAttention(1, 1, 160), Is.EqualTo(3.0).Within(1e-12));
            // Quarter of the way in both: row 1: 1 + 0.25·2 = 1.5; row 4: 2 + 0.25·6 = 3.5; 1.5 + 0.25·2 = 2.
            Assert.That(p.DecodeAttention(1, 1.75, 76), Is.EqualTo(2.0).Within(1e-12));
            // tokens 500.5 is halfway in [1, 1000]: 0.5 + 10 / 2.
            Assert.That(p.PrefillRest(1, 500.5), Is.EqualTo(5.5).Within(1e-12));
            Assert.That(p.DecodeRest(1, 50.5), Is.EqualTo(1.5).Within(1e-12));
            Assert.That(p.AllReduce(2, 513), Is.EqualTo(0.0015).Within(1e-15));
            Assert.That(p.Send(LinkClass.IntraNode, 501), Is.EqualTo(0.5).Within(1e-12));
            Assert.That(p.Send(LinkClass.InterNode, 251), Is.EqualTo(0.5).Within(1e-12));
        });
    }

    [Test]
    public void AllReduceOnOneDeviceAndEmptyMessagesCostNothing()
    {
        ProfileTables p = Measured();
        Assert.That(p.AllReduce(1, 1e15), Is.Zero);
        Assert.That(p.AllReduce(2, 0), Is.Zero);
        Assert.That(p.Send(LinkClass.InterNode, 0), Is.Zero);
    }

    [Test]
    public void EdgesTolerateRoundingButNotMore()
    {
        ProfileTables p = Measured();
        Assert.That(p.DecodeAttention(1, 4 * (1 + 5e-10), 256 * (1 + 5e-10)), Is.EqualTo(8));
        Assert.That(p.DecodeAttention(1, 1 - 5e-10, 16 * (1 - 5e-10)), Is.EqualTo(1));
        Assert.Throws<ProfileRangeException>(() => p.DecodeAttention(1, 1, 256 * (1 + 1e-8)));
        Assert.Throws<ProfileRangeException>(() => p.DecodeAttention(1, 1 - 1e-8, 16));
    }

    [Test]
    public void OutOfGridNamesTableDegreeVariableValueAndRange()
    {
        ProfileTables p = Measured();
        var e = Assert.Throws<ProfileRangeException>(() => p.DecodeAttention(2, 2, 300))!;
        Assert.That(e.Message, Does.Contain("decoder.attention").And.Contain("tp=2").And.Contain("context = 300")
            .And.Contain("[16, 256]"));
        e = Assert.Throws<ProfileRangeException>(() => p.PrefillAttention(1, 5, 16))!;
        Assert.That(e.Message, Does.Contain("encoder.attention").And.Contain("batch = 5").And.Contain("[1, 4]"));
        e = Assert.Throws<ProfileRangeException>(() => p.PrefillRest(1, 0.5))!;
        Assert.That(e.Message, Does.Contain("encoder.rest").And.Contain("tokens = 0.5").And.Contain("[1, 1000]"));
        e = Assert.Throws<ProfileRangeException>(() => p.Send(LinkClass.HostStaged, 2000))!;
        Assert.That(e.Message, Does.Contain("send.host_staged").And.Contain("bytes = 2000"));
        e = Assert.Throws<ProfileRangeException>(() => p.DecodeRest(1, double.NaN))!;
        Assert.That(e.Message, Does.Contain("decoder.rest").And.Contain("NaN"));
    }

    [Test]
    public void UncoveredDegreeNamesTableAndCoveredDegrees()
    {
        ProfileTables p = Measured();
        Assert.That(p.TensorParallelDegrees, Is.EqualTo(new[] { 1, 2 }));
        var e = Assert.Throws<ProfileRangeException>(() => p.DecodeRest(4, 10))!;
        Assert.That(e.Message, Does.Contain("decoder.rest").And.Contain("degree 4").And.Contain("1, 2"));
        e = Assert.Throws<ProfileRangeException>(() => p.AllReduce(4, 10))!;
        Assert.That(e.Message, Does.Contain("all_reduce").And.Contain("degree 4"));
    }

    [Test]
    public void CrossAttentionOnDecoderOnlyProfileThrows()
    {
        var e = Assert.Throws<ProfileRangeException>(() => Measured().CrossAttention(1, 1, 16))!;
        Assert.That(e.Message, Does.Contain("decoder.cross_attention").And.Contain("decoder-only"));
    }

    [Test]
    public void SinglePointAxisAnswersOnlyAtThatPoint()
    {
        var table = new ProfileTable1D("decoder.rest", 1, new ProfileAxis("tokens", [8]), [0.25]);
        Assert.That(table.Evaluate(8), Is.EqualTo(0.25));
        Assert.Throws<ProfileRangeException>(() => table.Evaluate(9));
    }

    [Test]
    public void AxisRejectsBadGrids()
    {
        Assert.That(() => new ProfileAxis("batch", []), Throws.TypeOf<SpecException>().With.Message.Contain("at least one"));
        Assert.That(() => new ProfileAxis("batch", [1, 2, 2]), Throws.TypeOf<SpecException>().With.Message.Contain("strictly increasing"));
        Assert.That(() => new ProfileAxis("batch", [-1, 2]), Throws.TypeOf<SpecException>().With.Message.Contain("non-negative"));
        Assert.That(() => new ProfileAxis("batch", [1, double.PositiveInfinity]), Throws.TypeOf<SpecException>());
        var axis = new ProfileAxis("batch", [1, 2]);
        Assert.That(() => new ProfileTable1D("encoder.rest", 1, axis, [1.0]), Throws.TypeOf<SpecException>().With.Message.Contain("time_s"));
        Assert.That(() => new ProfileTable1D("encoder.rest", 1, axis, [1.0, double.NaN]), Throws.TypeOf<SpecException>().With.Message.Contain("time_s[1]"));
    }

    [Test]
    public void LookupsDoNotAllocate()
    {
        ProfileTables p = AnalyticProfile.Build(ProfileFixtures.Tiny, ProfileFixtures.Toy());
        double sum = Lookups(p, 10); // JIT and first-call work first
        long before = GC.GetAllocatedBytesForCurrentThread();
        sum += Lookups(p, 20_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(sum, Is.GreaterThan(0));
        Assert.That(allocated, Is.Zero);
    }

    private static double Lookups(ProfileTables p, int count)
    {
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            double x = 1 + (i % 127) + 0.37;
            int tp = (i & 1) == 0 ? 1 : 2;
            sum += p.PrefillAttention(tp, 1 + i % 100, x) + p.PrefillRest(tp, x * 31) + p.DecodeAttention(tp, 3.5, x)
                + p.DecodeRest(tp, x) + p.AllReduce(tp, x * 1000) + p.Send(LinkClass.InterNode, x * 1e4);
        }
        return sum;
    }
}
