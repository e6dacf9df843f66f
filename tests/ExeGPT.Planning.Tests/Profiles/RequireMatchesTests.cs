using ExeGPT.Core;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Planning.Tests.Profiles;

public sealed class RequireMatchesTests
{
    private static readonly ProfileTables Profile = ProfileJson.ReadFromString(ProfileFixtures.MeasuredJson, "fixture");

    [Test]
    public void SameLayerShapeWithOtherDepthMatches()
    {
        Profile.RequireMatches(ProfileFixtures.Tiny);
        Profile.RequireMatches(ProfileFixtures.Tiny with { DecoderLayers = 96, Vocab = 50000, MaxPositions = 4096 });
    }

    private static IEnumerable<TestCaseData> Differences()
    {
        ModelSpec t = ProfileFixtures.Tiny;
        yield return new TestCaseData(t with { Name = "other" }, "name is 'tiny' in the profile but 'other'");
        yield return new TestCaseData(t with { Architecture = ModelArchitecture.EncoderDecoder, EncoderLayers = 2 }, "architecture is decoder-only in the profile but encoder-decoder");
        yield return new TestCaseData(t with { Hidden = 128 }, "hidden is 64 in the profile but 128");
        yield return new TestCaseData(t with { Heads = 8 }, "heads is 4");
        yield return new TestCaseData(t with { KvHeads = 4 }, "kv_heads is 2 in the profile but 4");
        yield return new TestCaseData(t with { HeadDim = 32 }, "head_dim");
        yield return new TestCaseData(t with { FfnHidden = 512 }, "ffn_hidden is 256 in the profile but 512");
        yield return new TestCaseData(t with { GatedFfn = true }, "gated_ffn is false in the profile but true");
        yield return new TestCaseData(t with { DtypeBytes = 4 }, "dtype_bytes is 2 in the profile but 4");
    }

    [TestCaseSource(nameof(Differences))]
    public void DifferentShapeNamesTheField(ModelSpec model, string expected)
    {
        var e = Assert.Throws<SpecException>(() => Profile.RequireMatches(model))!;
        Assert.That(e.Message, Does.Contain(expected).And.Contain($"model '{model.Name}'"));
    }
}
