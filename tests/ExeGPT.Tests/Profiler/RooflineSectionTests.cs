using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using System.Text.Json.Nodes;

namespace ExeGPT.Tests.Profiler;

/// <summary>The optional "roofline" section of the profile format: hand-computed fractions, a lossless round trip,
/// files without it still read, and a section that contradicts the layer tables is refused naming the JSON path.</summary>
[TestFixture]
public sealed class RooflineSectionTests
{
    // 1 TFLOP/s and 100 GB/s: round numbers, so the expected figures below are easy to check by hand.
    private static readonly DeviceSpec Device = new("test device", 1L << 30, 1e12, 100e9);

    /// <summary>tp 1 only; attention 2 batches x 2 lengths, rests over 2 token counts; every time 1 ms.</summary>
    private static ProfileTables Profile(bool withRoofline)
    {
        var batch = new ProfileAxis("batch", [1, 2]);
        ProfileTable2D Attention(string name, string column) => new(name, 1, batch, new ProfileAxis(column, [4, 8]),
            [1e-3, 1e-3, 1e-3, 1e-3], flops: [1e9, 2e9, 3e9, 4e9], memoryBytes: [1e6, 1e6, 1e8, 2e8]);
        ProfileTable1D Rest(string name) => new(name, 1, new ProfileAxis("tokens", [1, 2]), [1e-3, 1e-3],
            flops: [5e8, 1e9], memoryBytes: [5e7, 1e6]);
        var layers = new TensorParallelTables(1,
            Attention(TensorParallelTables.EncoderAttentionName, "seq_len"), Rest(TensorParallelTables.EncoderRestName),
            Attention(TensorParallelTables.DecoderAttentionName, "context"), null, Rest(TensorParallelTables.DecoderRestName));
        ProfileTable1D Send(string name) => new(name, null, new ProfileAxis("bytes", [1, 1e6]), [1e-6, 1e-4]);
        var fingerprint = new ModelFingerprint("m", ModelArchitecture.DecoderOnly, 64, 4, 4, 16, 256, false, 4);
        var metadata = new ProfileMetadata(ProfileKind.Measured, fingerprint, "host", "cpu", "test",
            new DateTime(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc), KernelLibrary: "my-kernels");
        return new ProfileTables(metadata, [layers], [], Send(ProfileTables.SendIntraNodeName), Send(ProfileTables.SendInterNodeName),
            Send(ProfileTables.SendHostStagedName), withRoofline ? ProfileRoofline.Compute([layers], Device) : null);
    }

    [Test]
    public void FractionsAreRooflineTimeOverMeasuredTime()
    {
        ProfileRoofline roofline = Profile(withRoofline: true).Roofline!;
        Assert.That(roofline.PeakFlops, Is.EqualTo(1e12));
        Assert.That(roofline.Ops.Select(o => o.Table), Is.EquivalentTo(new[]
        {
            TensorParallelTables.EncoderAttentionName, TensorParallelTables.EncoderRestName,
            TensorParallelTables.DecoderAttentionName, TensorParallelTables.DecoderRestName,
        }));
        RooflineOp attention = roofline.Ops.Single(o => o.Table == TensorParallelTables.EncoderAttentionName);
        // Point by point, max(flops / 1e12, bytes / 1e11) / 1 ms: compute-bound 1 ms, 2 ms, 3 ms, then memory-bound 2 ms.
        Assert.That(attention.Fraction, Is.EqualTo(new[] { 1.0, 2.0, 3.0, 4.0 }).Within(1e-12));
        Assert.That(attention.AchievedTflops, Is.EqualTo(new[] { 1.0, 2.0, 3.0, 4.0 }).Within(1e-12));
        Assert.That(attention.AchievedGbps, Is.EqualTo(new[] { 1.0, 1.0, 100.0, 200.0 }).Within(1e-9));
        Assert.That(attention.BestFraction, Is.EqualTo(4.0).Within(1e-12));
        Assert.That(attention.MedianFraction, Is.EqualTo(2.5).Within(1e-12));
        RooflineOp rest = roofline.Ops.Single(o => o.Table == TensorParallelTables.DecoderRestName);
        // 5e8 FLOPs take 0.5 ms, 5e7 bytes 0.5 ms; 1e9 FLOPs take 1 ms.
        Assert.That(rest.Fraction, Is.EqualTo(new[] { 0.5, 1.0 }).Within(1e-12));
    }

    [Test]
    public void TheSectionAndTheKernelLibraryRoundTrip()
    {
        ProfileTables profile = Profile(withRoofline: true);
        string json = ProfileJson.ToJson(profile);
        ProfileTables back = ProfileJson.ReadFromString(json);
        Assert.That(ProfileJson.ToJson(back), Is.EqualTo(json));
        Assert.That(back.Metadata.KernelLibrary, Is.EqualTo("my-kernels"));
        Assert.That(back.Roofline!.Ops.Single(o => o.Table == TensorParallelTables.DecoderAttentionName).Fraction,
            Is.EqualTo(profile.Roofline!.Ops.Single(o => o.Table == TensorParallelTables.DecoderAttentionName).Fraction));
    }

    [Test]
    public void AProfileWithoutTheSectionStillReads()
    {
        string json = ProfileJson.ToJson(Profile(withRoofline: false));
        Assert.That(json, Does.Not.Contain("roofline"));
        Assert.That(ProfileJson.ReadFromString(json).Roofline, Is.Null);
    }

    [TestCase("table", "decoder.cross_attention", "names table decoder.cross_attention (tp=1), which $.layers does not have")]
    [TestCase("tp", 2, "(tp=2), which $.layers does not have")]
    [TestCase("best_fraction", -1, "best_fraction[0] is -1")]
    public void AnOpThatContradictsTheTablesIsRefused(string field, object value, string message)
    {
        JsonNode node = value is string text ? JsonValue.Create(text) : JsonValue.Create((int)value);
        string broken = Edit(roofline => roofline["ops"]![0]![field] = node);
        var e = Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(broken, "edited.json"));
        Assert.That(e!.Message, Does.Contain("edited.json").And.Contain("roofline").And.Contain(message));
    }

    [Test]
    public void ABadDeviceIsRefused()
    {
        string zero = Edit(roofline => roofline["peak_flops"] = 0);
        Assert.That(Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(zero, "edited.json"))!.Message,
            Does.Contain("$.roofline").And.Contain("must be positive"));
        string renamed = Edit(roofline =>
        {
            roofline["bandwidth"] = roofline["memory_bandwidth"]!.DeepClone();
            roofline.Remove("memory_bandwidth");
        });
        Assert.That(Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(renamed, "edited.json"))!.Message,
            Does.Contain("$.roofline").And.Contain("unknown field 'bandwidth'"));
    }

    [Test]
    public void AFractionRowOfTheWrongLengthIsRefused()
    {
        // The first op is tp 1's decoder.attention (ops are ordered by degree, then name): 2 rows of 2.
        string broken = Edit(roofline => ((JsonArray)roofline["ops"]![0]!["fraction"]![1]!).RemoveAt(1));
        var e = Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(broken, "edited.json"));
        Assert.That(e!.Message, Does.Contain("$.roofline.ops[0].fraction[1] has 1 values"));
    }

    /// <summary>The profile's JSON with its roofline section edited.</summary>
    private static string Edit(Action<JsonObject> edit)
    {
        JsonObject root = JsonNode.Parse(ProfileJson.ToJson(Profile(withRoofline: true)))!.AsObject();
        edit(root["roofline"]!.AsObject());
        return root.ToJsonString();
    }
}
