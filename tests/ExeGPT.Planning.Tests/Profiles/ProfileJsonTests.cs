using System.Text.Json.Nodes;
using ExeGPT.Core;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Planning.Tests.Profiles;

public sealed class ProfileJsonTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDirectory() => _dir = Directory.CreateTempSubdirectory("exegpt-profile-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void ReadsTheHandWrittenFile()
    {
        ProfileTables p = ProfileJson.ReadFromString(ProfileFixtures.MeasuredJson);
        ProfileMetadata m = p.Metadata;
        Assert.Multiple(() =>
        {
            Assert.That(m.Kind, Is.EqualTo(ProfileKind.Measured));
            Assert.That(m.Model, Is.EqualTo(ModelFingerprint.Of(ProfileFixtures.Tiny)));
            Assert.That(m.Device, Is.EqualTo("cpu (2 cores)"));
            Assert.That(m.Backend, Is.EqualTo("cpu"));
            Assert.That(m.EngineVersion, Is.EqualTo("test-1"));
            Assert.That(m.Notes, Is.EqualTo("hand-made"));
            Assert.That(m.CreatedUtc, Is.EqualTo(new DateTime(2024, 4, 12, 9, 30, 0, DateTimeKind.Utc)));
            Assert.That(m.CreatedUtc.Kind, Is.EqualTo(DateTimeKind.Utc));
            Assert.That(p.Layers[0].EncoderAttention.Spread, Is.EqualTo(new[] { 0.1, 0.1, 0.1, 0.2, 0.2, 0.2 }));
            Assert.That(p.Layers[0].DecoderRest.Flops, Is.EqualTo(new[] { 10.0, 1000.0 }));
            Assert.That(p.Layers[0].DecoderRest.MemoryBytes, Is.EqualTo(new[] { 5.0, 50.0 }));
            Assert.That(p.Layers[1].DecoderRest.Flops, Is.Null);
            Assert.That(p.Description, Is.EqualTo("measured cpu (2 cores) (tiny, cpu)"));
        });
    }

    [Test]
    public void CreatedAcceptsAnOffsetAndStoresUtc()
    {
        ProfileTables p = ProfileJson.ReadFromString(Mutate(j => j["created"] = "2024-04-12T11:30:00.5+02:00"));
        Assert.That(p.Metadata.CreatedUtc, Is.EqualTo(new DateTime(2024, 4, 12, 9, 30, 0, 500, DateTimeKind.Utc)));
    }

    [Test]
    public void MeasuredFileRoundTripsThroughDisk()
    {
        ProfileTables original = ProfileJson.ReadFromString(ProfileFixtures.MeasuredJson);
        string path = Path.Combine(_dir, "measured.json");
        ProfileJson.Write(original, path);
        AssertSame(ProfileJson.Read(path), original);
    }

    [Test]
    public void AnalyticProfilesRoundTripExactly([Values] bool encoderDecoder, [Values] bool indented)
    {
        ModelSpec model = encoderDecoder ? ProfileFixtures.TinyT5 : ProfileFixtures.Tiny;
        var options = new AnalyticOptions { CreatedUtc = new DateTime(2024, 4, 12, 9, 30, 0, 123, DateTimeKind.Utc).AddTicks(4567) };
        ProfileTables original = AnalyticProfile.Build(model, ProfileFixtures.Toy(), options);
        ProfileTables copy = ProfileJson.ReadFromString(ProfileJson.ToJson(original, indented));
        AssertSame(copy, original);
        // Lookups agree bit for bit, on and off the grid.
        Assert.That(copy.PrefillAttention(2, 37.3, 99.9), Is.EqualTo(original.PrefillAttention(2, 37.3, 99.9)));
        Assert.That(copy.DecodeRest(1, 12345.6), Is.EqualTo(original.DecodeRest(1, 12345.6)));
    }

    [Test]
    public void WrittenFilesUseTheDocumentedNames()
    {
        JsonNode json = JsonNode.Parse(ProfileJson.ToJson(AnalyticProfile.Build(ProfileFixtures.TinyT5, ProfileFixtures.Toy())))!;
        Assert.That((string?)json["format"], Is.EqualTo("exegpt-profile"));
        Assert.That((int?)json["version"], Is.EqualTo(1));
        Assert.That((string?)json["kind"], Is.EqualTo("analytic"));
        Assert.That((string?)json["model"]!["architecture"], Is.EqualTo("encoder-decoder"));
        JsonNode layer = json["layers"]![1]!;
        Assert.That((int?)layer["tp"], Is.EqualTo(2));
        Assert.That(layer["decoder"]!["cross_attention"]!["encoder_len"], Is.Not.Null);
        Assert.That(layer["encoder"]!["attention"]!["time_s"]!.AsArray().Count,
            Is.EqualTo(layer["encoder"]!["attention"]!["batch"]!.AsArray().Count));
        Assert.That((int?)json["all_reduce"]![0]!["tp"], Is.EqualTo(2));
        Assert.That(json["send"]!["host_staged"]!["bytes"], Is.Not.Null);
        Assert.That((string?)json["created"], Does.EndWith("Z"));
    }

    private static IEnumerable<TestCaseData> Malformed()
    {
        TestCaseData Case(string name, Action<JsonObject> mutate, params string[] expected) =>
            new TestCaseData(mutate, expected).SetArgDisplayNames(name);
        yield return Case("wrong format", j => j["format"] = "other", "$.format", "'other'", "exegpt-profile");
        yield return Case("future version", j => j["version"] = 2, "$.version", "is 2", "version 1");
        yield return Case("unknown kind", j => j["kind"] = "guessed", "$.kind", "'analytic' or 'measured'");
        yield return Case("missing model", j => j.Remove("model"), "$ has no 'model'");
        yield return Case("bad architecture", j => j["model"]!["architecture"] = "rnn", "$.model.architecture", "'rnn'");
        yield return Case("string hidden", j => j["model"]!["hidden"] = "64", "$.model.hidden", "expected an integer");
        yield return Case("bad created", j => j["created"] = "yesterday", "$.created", "ISO 8601");
        yield return Case("created without zone", j => j["created"] = "2024-04-12T09:30:00", "$.created");
        yield return Case("unknown top-level field", j => j["extra"] = 1, "unknown field 'extra'");
        yield return Case("missing table", j => Decoder(j, 0).Remove("rest"), "$.layers[0] (tp=1).decoder has no 'rest'");
        yield return Case("missing time_s", j => Decoder(j, 0)["rest"]!.AsObject().Remove("time_s"), "decoder.rest has no 'time_s'");
        yield return Case("misspelled column", j => Decoder(j, 0)["rest"]!["times"] = new JsonArray(1, 2), "unknown field 'times'");
        yield return Case("too few rows", j => Encoder(j, 1)["attention"]!["time_s"]!.AsArray().RemoveAt(1),
            "tp=2).encoder.attention.time_s", "1 rows but batch has 2 points");
        yield return Case("short row", j => Decoder(j, 0)["attention"]!["time_s"]![1]!.AsArray().RemoveAt(0),
            "decoder.attention.time_s[1]", "1 values but context has 2 points");
        yield return Case("1-D length mismatch", j => Encoder(j, 0)["rest"]!["time_s"]!.AsArray().Add(20),
            "encoder.rest", "time_s has 3 values but the grid has 2 points");
        yield return Case("spread shape", j => Encoder(j, 0)["attention"]!["spread_s"]![0]!.AsArray().RemoveAt(0),
            "encoder.attention.spread_s[0]");
        yield return Case("non-increasing axis", j => Encoder(j, 0)["attention"]!["seq_len"] = new JsonArray(16, 64, 64),
            "tp=1).encoder.attention", "seq_len", "strictly increasing");
        yield return Case("negative time", j => Decoder(j, 1)["attention"]!["time_s"]![0]![1] = -0.5,
            "tp=2).decoder.attention", "time_s[1] is -0.5", "non-negative");
        yield return Case("string in axis", j => Decoder(j, 0)["rest"]!["tokens"]![1] = "100",
            "decoder.rest.tokens[1]", "expected a finite number");
        yield return Case("cross-attention on decoder-only", j => Decoder(j, 0)["cross_attention"] = Decoder(j, 0)["attention"]!.DeepClone(),
            "cross_attention", "decoder-only");
        yield return Case("encoder-decoder without cross-attention", j => j["model"]!["architecture"] = "encoder-decoder",
            "has no 'cross_attention'");
        yield return Case("duplicate degree", j => j["layers"]![1]!["tp"] = 1, "degree 1 has two sets");
        yield return Case("missing all-reduce", j => j["all_reduce"] = new JsonArray(), "all_reduce (tp=2) is missing");
        yield return Case("all-reduce for tp 1", j => j["all_reduce"]![0]!["tp"] = 1, "tp > 1");
        yield return Case("no layers", j => j["layers"] = new JsonArray(), "no tensor-parallel degree");
        yield return Case("zero degree", j => j["layers"]![0]!["tp"] = 0, "must be positive");
        yield return Case("missing send table", j => j["send"]!.AsObject().Remove("inter_node"), "$.send has no 'inter_node'");
        yield return Case("layers not an array", j => j["layers"] = new JsonObject(), "$.layers is an object; expected an array");
        yield return Case("bad dtype", j => j["model"]!["dtype_bytes"] = 3, "dtype_bytes must be 1, 2 or 4");
    }

    [TestCaseSource(nameof(Malformed))]
    public void MalformedFilesGiveClearErrors(Action<JsonObject> mutate, string[] expected)
    {
        var e = Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(Mutate(mutate), "bad.json"))!;
        Assert.That(e.Message, Does.Contain("profile 'bad.json'"));
        foreach (string fragment in expected)
            Assert.That(e.Message, Does.Contain(fragment));
    }

    [TestCase("{", TestName = "TruncatedJson")]
    [TestCase("", TestName = "EmptyText")]
    [TestCase("[1, 2]", TestName = "RootIsAnArray")]
    public void NonProfileTextIsRefused(string text)
    {
        var e = Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(text, "bad.json"))!;
        Assert.That(e.Message, Does.Contain("bad.json"));
    }

    [Test]
    public void NaNLiteralIsNotJson()
    {
        string json = ProfileFixtures.MeasuredJson.Replace("\"time_s\": [0.5, 10.5]", "\"time_s\": [NaN, 10.5]");
        Assert.That(json, Is.Not.EqualTo(ProfileFixtures.MeasuredJson));
        var e = Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(json, "nan.json"))!;
        Assert.That(e.Message, Does.Contain("not valid JSON"));
    }

    [Test]
    public void DuplicateKeysAreRefused()
    {
        string json = ProfileFixtures.MeasuredJson.Replace("\"version\": 1,", "\"version\": 1, \"version\": 1,");
        Assert.Throws<SpecException>(() => ProfileJson.ReadFromString(json, "dup.json"));
    }

    [Test]
    public void MissingFileIsNamed()
    {
        string path = Path.Combine(_dir, "absent.json");
        var e = Assert.Throws<SpecException>(() => ProfileJson.Read(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("cannot be read"));
    }

    private static JsonObject Encoder(JsonObject j, int layer) => j["layers"]![layer]!["encoder"]!.AsObject();

    private static JsonObject Decoder(JsonObject j, int layer) => j["layers"]![layer]!["decoder"]!.AsObject();

    private static string Mutate(Action<JsonObject> change)
    {
        JsonObject json = JsonNode.Parse(ProfileFixtures.MeasuredJson)!.AsObject();
        change(json);
        return json.ToJsonString();
    }

    private static void AssertSame(ProfileTables actual, ProfileTables expected)
    {
        Assert.That(actual.Metadata, Is.EqualTo(expected.Metadata));
        Assert.That(actual.TensorParallelDegrees, Is.EqualTo(expected.TensorParallelDegrees));
        for (int i = 0; i < expected.Layers.Count; i++)
        {
            TensorParallelTables a = actual.Layers[i], e = expected.Layers[i];
            AssertSame(a.EncoderAttention, e.EncoderAttention);
            AssertSame(a.EncoderRest, e.EncoderRest);
            AssertSame(a.DecoderAttention, e.DecoderAttention);
            if (e.CrossAttention is null)
                Assert.That(a.CrossAttention, Is.Null);
            else
                AssertSame(a.CrossAttention!, e.CrossAttention);
            AssertSame(a.DecoderRest, e.DecoderRest);
        }
        Assert.That(actual.AllReduceTables, Has.Count.EqualTo(expected.AllReduceTables.Count));
        for (int i = 0; i < expected.AllReduceTables.Count; i++)
            AssertSame(actual.AllReduceTables[i], expected.AllReduceTables[i]);
        foreach (LinkClass link in Enum.GetValues<LinkClass>())
            AssertSame(actual.SendTable(link), expected.SendTable(link));
    }

    private static void AssertSame(ProfileTable1D a, ProfileTable1D e)
    {
        Assert.That((a.Name, a.TensorParallel, a.Axis.Name), Is.EqualTo((e.Name, e.TensorParallel, e.Axis.Name)));
        Assert.That(a.Axis.Points, Is.EqualTo(e.Axis.Points));
        Assert.That(a.Times, Is.EqualTo(e.Times));
        Assert.That(a.Spread, Is.EqualTo(e.Spread));
        Assert.That(a.Flops, Is.EqualTo(e.Flops));
        Assert.That(a.MemoryBytes, Is.EqualTo(e.MemoryBytes));
    }

    private static void AssertSame(ProfileTable2D a, ProfileTable2D e)
    {
        Assert.That((a.Name, a.TensorParallel, a.Rows.Name, a.Columns.Name), Is.EqualTo((e.Name, e.TensorParallel, e.Rows.Name, e.Columns.Name)));
        Assert.That(a.Rows.Points, Is.EqualTo(e.Rows.Points));
        Assert.That(a.Columns.Points, Is.EqualTo(e.Columns.Points));
        Assert.That(a.Times, Is.EqualTo(e.Times));
        Assert.That(a.Spread, Is.EqualTo(e.Spread));
        Assert.That(a.Flops, Is.EqualTo(e.Flops));
        Assert.That(a.MemoryBytes, Is.EqualTo(e.MemoryBytes));
    }
}
