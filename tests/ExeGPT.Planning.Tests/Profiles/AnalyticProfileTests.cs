using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Planning.Tests.Profiles;

public sealed class AnalyticProfileTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(ProfileFixtures.Tiny, ProfileFixtures.Toy()).SetArgDisplayNames("tiny", "toy");
        yield return new TestCaseData(ProfileFixtures.TinyT5, ProfileFixtures.Toy()).SetArgDisplayNames("tiny-t5", "toy");
        yield return new TestCaseData(ProfileFixtures.Mid, ProfileFixtures.A40Like).SetArgDisplayNames("mid", "a40");
        yield return new TestCaseData(ProfileFixtures.Gated, ProfileFixtures.A40Like).SetArgDisplayNames("gated", "a40");
    }

    [TestCaseSource(nameof(Cases))]
    public void InterpolatedTablesStayWithinOnePercentOfTheFormulas(ModelSpec model, ClusterSpec cluster)
    {
        ProfileTables profile = AnalyticProfile.Build(model, cluster);
        var direct = new AnalyticCostModel(model, cluster);
        var random = new Random(20240412);
        double maxLength = model.MaxPositions, maxTokens = 4096.0 * model.MaxPositions;
        // Log-uniform points: the kinks sit anywhere from a few tokens to thousands.
        double Draw(double max) => Math.Exp(random.NextDouble() * Math.Log(max));
        double worst = 0;
        void Check(double fromGrid, double exact)
        {
            double error = Math.Abs(fromGrid - exact) / exact;
            worst = Math.Max(worst, error);
        }
        foreach (int tp in profile.TensorParallelDegrees)
            for (int i = 0; i < 2000; i++)
            {
                double b = Draw(4096), s = Draw(maxLength), t = Draw(maxTokens), bytes = Draw(64.0 * (1L << 30));
                Check(profile.PrefillAttention(tp, b, s), direct.PrefillAttention(tp, b, s).Seconds);
                Check(profile.DecodeAttention(tp, b, s), direct.DecodeAttention(tp, b, s).Seconds);
                if (model.Architecture == ModelArchitecture.EncoderDecoder)
                    Check(profile.CrossAttention(tp, b, s), direct.CrossAttention(tp, b, s).Seconds);
                Check(profile.PrefillRest(tp, t), direct.PrefillRest(tp, t).Seconds);
                Check(profile.DecodeRest(tp, t), direct.DecodeRest(tp, t).Seconds);
                if (tp > 1)
                    Check(profile.AllReduce(tp, bytes), direct.AllReduce(tp, bytes));
                foreach (LinkClass link in Enum.GetValues<LinkClass>())
                    Check(profile.Send(link, bytes), direct.Send(link, bytes));
            }
        TestContext.Out.WriteLine($"worst relative interpolation error {worst:P3}");
        Assert.That(worst, Is.LessThan(0.01), $"worst relative interpolation error {worst:P3}");
    }

    [Test]
    public void DefaultGridsCoverThePlanningRange()
    {
        ModelSpec model = ProfileFixtures.Mid;
        ProfileTables p = AnalyticProfile.Build(model, ProfileFixtures.A40Like);
        Assert.That(p.TensorParallelDegrees, Is.EqualTo(new[] { 1, 2, 4, 8 }));
        Assert.Multiple(() =>
        {
            foreach (int tp in p.TensorParallelDegrees)
            {
                Assert.DoesNotThrow(() => p.PrefillAttention(tp, 1, 1));
                Assert.DoesNotThrow(() => p.PrefillAttention(tp, 4096, model.MaxPositions));
                Assert.DoesNotThrow(() => p.DecodeAttention(tp, 4096, model.MaxPositions));
                Assert.DoesNotThrow(() => p.PrefillRest(tp, 4096.0 * model.MaxPositions));
                Assert.DoesNotThrow(() => p.DecodeRest(tp, 1));
                Assert.DoesNotThrow(() => p.AllReduce(tp, 64.0 * (1L << 30)));
            }
            Assert.DoesNotThrow(() => p.Send(LinkClass.HostStaged, 64.0 * (1L << 30)));
            Assert.Throws<ProfileRangeException>(() => p.DecodeAttention(1, 4097, 10));
            Assert.Throws<ProfileRangeException>(() => p.DecodeAttention(1, 10, model.MaxPositions + 1));
        });
        Assert.That(p.Metadata.Kind, Is.EqualTo(ProfileKind.Analytic));
        Assert.That(p.Metadata.Device, Is.EqualTo("A40-48GB"));
        Assert.That(p.Description, Does.Contain("analytic A40-48GB"));
    }

    [Test]
    public void GridOptionsShapeTheTables()
    {
        var options = new AnalyticOptions { MaxBatch = 64, MaxLength = 100, MaxTokens = 5000, MaxBytes = 1 << 20 };
        ProfileTables p = AnalyticProfile.Build(ProfileFixtures.Tiny, ProfileFixtures.Toy(), options);
        TensorParallelTables layer = p.Layers[0];
        Assert.That(layer.EncoderAttention.Rows.Last, Is.EqualTo(64));
        Assert.That(layer.EncoderAttention.Columns.Last, Is.EqualTo(100));
        Assert.That(layer.DecoderRest.Axis.Last, Is.EqualTo(5000));
        Assert.That(p.SendInterNode.Axis.Last, Is.EqualTo(1 << 20));
        // Ratios between neighbours never exceed the configured ones.
        double[] lengths = [.. layer.DecoderAttention.Columns.Points];
        for (int i = 1; i < lengths.Length; i++)
            Assert.That(lengths[i] / lengths[i - 1], Is.LessThanOrEqualTo(options.LengthGridRatio * (1 + 1e-12)));
    }

    [Test]
    public void EncoderDecoderProfilesCarryCrossAttention()
    {
        ProfileTables t5 = AnalyticProfile.Build(ProfileFixtures.TinyT5, ProfileFixtures.Toy());
        Assert.That(t5.Layers.All(l => l.CrossAttention is not null));
        Assert.That(t5.CrossAttention(2, 8, 100), Is.GreaterThan(0));
        ProfileTables tiny = AnalyticProfile.Build(ProfileFixtures.Tiny, ProfileFixtures.Toy());
        Assert.That(tiny.Layers.All(l => l.CrossAttention is null));
    }

    [TestCaseSource(nameof(Cases))]
    public void TimesNeverDecreaseWithBatchLengthOrTokens(ModelSpec model, ClusterSpec cluster)
    {
        ProfileTables p = AnalyticProfile.Build(model, cluster);
        foreach (TensorParallelTables layer in p.Layers)
        {
            foreach (ProfileTable2D table in new[] { layer.EncoderAttention, layer.DecoderAttention, layer.CrossAttention }.OfType<ProfileTable2D>())
                for (int r = 0; r < table.Rows.Count; r++)
                    for (int c = 0; c < table.Columns.Count; c++)
                    {
                        if (r > 0)
                            Assert.That(table.TimeAt(r, c), Is.GreaterThanOrEqualTo(table.TimeAt(r - 1, c)), $"{table.Name} tp={layer.TensorParallel} batch row {r}");
                        if (c > 0)
                            Assert.That(table.TimeAt(r, c), Is.GreaterThanOrEqualTo(table.TimeAt(r, c - 1)), $"{table.Name} tp={layer.TensorParallel} length column {c}");
                    }
            foreach (ProfileTable1D table in new[] { layer.EncoderRest, layer.DecoderRest })
                for (int i = 1; i < table.Axis.Count; i++)
                    Assert.That(table.Times[i], Is.GreaterThanOrEqualTo(table.Times[i - 1]), $"{table.Name} tp={layer.TensorParallel} point {i}");
        }
        // Off the grid too: interpolation between non-decreasing points cannot decrease.
        double length = model.MaxPositions * 0.4321;
        Assert.That(p.DecodeAttention(1, 100.5, length), Is.LessThanOrEqualTo(p.DecodeAttention(1, 100.75, length + 0.25)));
        Assert.That(p.PrefillRest(1, 1234.5), Is.LessThanOrEqualTo(p.PrefillRest(1, 1234.75)));
    }

    [Test]
    public void TwoDevicesRunLargeGemmsAboutTwiceAsFast()
    {
        ProfileTables p = AnalyticProfile.Build(ProfileFixtures.Mid, ProfileFixtures.A40Like);
        double one = p.PrefillRest(1, 65536), two = p.PrefillRest(2, 65536);
        Assert.That(two, Is.LessThan(one));
        Assert.That(two / one, Is.InRange(0.45, 0.6));
        Assert.That(p.PrefillAttention(2, 32, 1024), Is.LessThan(p.PrefillAttention(1, 32, 1024)));
        Assert.That(p.DecodeAttention(4, 256, 1024), Is.LessThan(p.DecodeAttention(2, 256, 1024)));
    }

    [Test]
    public void MetadataNamesTheModelAndSettings()
    {
        var created = new DateTime(2024, 4, 12, 9, 30, 0, DateTimeKind.Utc);
        ProfileTables p = AnalyticProfile.Build(ProfileFixtures.Tiny, ProfileFixtures.Toy(), new AnalyticOptions { CreatedUtc = created });
        Assert.That(p.Metadata.Model, Is.EqualTo(ModelFingerprint.Of(ProfileFixtures.Tiny)));
        Assert.That(p.Metadata.CreatedUtc, Is.EqualTo(created));
        Assert.That(p.Metadata.Backend, Is.EqualTo(AnalyticProfile.Backend));
        Assert.That(p.Metadata.Notes, Does.Contain("GEMM 0.7").And.Contain("launch 4 us"));
        p.RequireMatches(ProfileFixtures.Tiny);
    }
}
