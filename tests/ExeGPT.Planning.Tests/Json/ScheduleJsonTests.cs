using ExeGPT.Core;
using ExeGPT.Planning.Tests.Specs;
using ExeGPT.Scheduler.Json;
using ExeGPT.Simulator;

namespace ExeGPT.Planning.Tests.Json;

[TestFixture]
public sealed class ScheduleJsonTests
{
    [Test]
    public void ReadsEveryField()
    {
        Schedule s = ScheduleJson.Parse(
            """{"policy":"rra","encoder_batch":32,"decode_iterations":16,"tp_degree":2,"tp_groups":2,"micro_batches":0,"devices":8}""");
        Assert.That(s, Is.EqualTo(new Schedule(Policy.Rra, 32, 16, 2, 2, 0, 8)));
    }

    [Test]
    public void MissingOptionalFieldsTakeTheRecordDefaults()
    {
        Assert.That(ScheduleJson.Parse("""{"policy":"WAA-M","encoder_batch":5}"""), Is.EqualTo(new Schedule(Policy.WaaM, 5)));
        Assert.That(ScheduleJson.Parse("""{"encoder_batch":3,"policy":"static","devices":4}"""),
            Is.EqualTo(new Schedule(Policy.Static, 3, Devices: 4)));
    }

    [Test]
    public void WritesSnakeCaseKeysInOrder()
    {
        Assert.That(ScheduleJson.ToJson(new Schedule(Policy.WaaC, 12, 0, 4, 1, 3, 0)), Is.EqualTo(
            """{"policy":"waa-c","encoder_batch":12,"decode_iterations":0,"tp_degree":4,"tp_groups":1,"micro_batches":3,"devices":0}"""));
    }

    [TestCase(Policy.Rra)]
    [TestCase(Policy.WaaC)]
    [TestCase(Policy.WaaM)]
    [TestCase(Policy.Static)]
    [TestCase(Policy.Continuous)]
    public void RoundTrips(Policy policy)
    {
        var s = new Schedule(policy, 7, 3, 2, 1, 2, 6);
        Assert.That(ScheduleJson.Parse(ScheduleJson.ToJson(s, indented: true)), Is.EqualTo(s));
    }

    [Test]
    public void TakesTheScheduleOfAScheduleCommandDocument()
    {
        const string doc = """
            {"satisfiable":true,"reason":null,"policy":"rra","schedule":{"policy":"rra","encoder_batch":40,"decode_iterations":31,
             "tp_degree":4,"tp_groups":1,"micro_batches":0,"devices":0},"throughput_seq_per_s":12.5,"devices":[],"frontier":[]}
            """;
        Assert.That(ScheduleJson.Parse(doc), Is.EqualTo(new Schedule(Policy.Rra, 40, 31, 4, 1)));
    }

    [TestCase("""{"policy":"rra","encoder_batch":8,"batch":3}""", "\"batch\"", "encoder_batch")]
    [TestCase("""{"policy":"fifo","encoder_batch":8}""", "'fifo'", "waa-c")]
    [TestCase("""{"policy":3,"encoder_batch":8}""", "\"policy\"", "string")]
    [TestCase("""{"policy":"rra","encoder_batch":"8"}""", "\"encoder_batch\"", "integer")]
    [TestCase("""{"policy":"rra","encoder_batch":8.5}""", "\"encoder_batch\"", "integer")]
    [TestCase("""{"policy":"rra","encoder_batch":8,"tp_groups":-1}""", "\"tp_groups\"", "at least 0")]
    [TestCase("""{"policy":"rra","encoder_batch":0}""", "\"encoder_batch\"", "at least 1")]
    [TestCase("""{"encoder_batch":8}""", "missing \"policy\"", "rra")]
    [TestCase("""{"policy":"rra"}""", "missing \"encoder_batch\"", "positive")]
    [TestCase("""[1,2]""", "object", "an array")]
    [TestCase("""{"policy":"rra",""", "not valid JSON", "")]
    [TestCase("""{"satisfiable":false,"schedule":null}""", "\"schedule\" is null", "no schedule")]
    [TestCase("""{"schedule":[1]}""", "\"schedule\" must be an object", "array")]
    public void RejectsWithAMessageNamingTheProblem(string json, string first, string second)
    {
        var e = Assert.Throws<SpecException>(() => ScheduleJson.Parse(json, "test.json"))!;
        Assert.That(e.Message, Does.StartWith("test.json: ").And.Contain(first).And.Contain(second));
    }

    [Test]
    public void ReadsAFileAndNamesAMissingOne()
    {
        using var files = new TempFiles();
        string path = files.Write("s.json", """{"policy":"continuous","encoder_batch":64}""");
        Assert.That(ScheduleJson.Read(path), Is.EqualTo(new Schedule(Policy.Continuous, 64)));

        string missing = Path.Combine(files.Root, "none.json");
        var e = Assert.Throws<SpecException>(() => ScheduleJson.Read(missing))!;
        Assert.That(e.Message, Does.Contain(missing).And.Contain("not found"));

        string bad = files.Write("bad.json", """{"policy":"rra","encoder_batch":1,"oops":true}""");
        e = Assert.Throws<SpecException>(() => ScheduleJson.Read(bad))!;
        Assert.That(e.Message, Does.Contain(bad).And.Contain("\"oops\""));
    }
}
