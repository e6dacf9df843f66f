using ExeGPT.Core;
using ExeGPT.Core.Workloads;

namespace ExeGPT.Planning.Tests.Specs;

public class TraceReaderTests
{
    private TempFiles _files = null!;

    [SetUp] public void SetUp() => _files = new TempFiles();
    [TearDown] public void TearDown() => _files.Dispose();

    // Rows (10,20), (30,40), (50,90), (30,50).
    // Inputs 10,30,50,30: mean 30; outputs 20,40,90,50: mean 50.
    // dx = −20,0,20,0; dy = −30,−10,40,0 → Σdxdy = 600+800 = 1400, Σdx² = 800, Σdy² = 900+100+1600 = 2600.
    // r = 1400 / √(800·2600) = 0.970725...
    private static readonly double HandR = 1400 / Math.Sqrt(800.0 * 2600.0);

    private static void AssertHandRows(WorkloadSpec w, string name)
    {
        Assert.Multiple(() =>
        {
            Assert.That(w.Name, Is.EqualTo(name));
            Assert.That(w.Trace, Is.EqualTo(new QueryLengths[] { new(10, 20), new(30, 40), new(50, 90), new(30, 50) }));
            Assert.That(w.Correlation, Is.EqualTo(HandR).Within(1e-12));
            Assert.That((w.Input.Min, w.Input.Max, w.Input.Mean), Is.EqualTo((10, 50, 30.0)));
            Assert.That(w.Input.Probability(30), Is.EqualTo(0.5));
            Assert.That(w.Output.Mean, Is.EqualTo(50).Within(1e-12));
            Assert.That(w.Output.Std, Is.EqualTo(Math.Sqrt(2600 / 4.0)).Within(1e-9));
        });
    }

    [Test]
    public void CsvWithHeader() =>
        AssertHandRows(TraceReader.Load(_files.Write("a.csv", "input_len,output_len\n10,20\n30,40\r\n\n50,90\n30,50\n")), "a.csv");

    [Test]
    public void CsvWithoutHeaderAndWithComments() =>
        AssertHandRows(TraceReader.Load(_files.Write("b.csv", "# my trace\n10,20\n30, 40\n50,90.0\n30,50")), "b.csv");

    [Test]
    public void CsvAliasHeaderInAnyOrderWithExtraColumns() =>
        AssertHandRows(TraceReader.Load(_files.Write("c.csv",
            "id,completion_tokens,prompt_tokens\nq1,20,10\nq2,40,30\nq3,90,50\nq4,50,30\n")), "c.csv");

    [Test]
    public void JsonLines() =>
        AssertHandRows(TraceReader.Load(_files.Write("d.jsonl",
            "{\"input_len\": 10, \"output_len\": 20}\n{\"input\": 30, \"output\": 40}\n\n{\"prompt_tokens\": 50, \"completion_tokens\": 90, \"id\": \"x\"}\n{\"input_len\": 30, \"output_len\": 50}\n")), "d.jsonl");

    [Test]
    public void JsonArray() =>
        AssertHandRows(TraceReader.Load(_files.Write("e.json",
            "[\n  {\"input_len\": 10, \"output_len\": 20},\n  {\"input_len\": 30, \"output_len\": 40},\n  {\"input_len\": 50, \"output_len\": 90},\n  {\"input_len\": 30, \"output_len\": 50}\n]\n")), "e.json");

    [Test]
    public void ConstantLengthsHaveZeroCorrelation()
    {
        WorkloadSpec w = TraceReader.Load(_files.Write("f.csv", "5,7\n5,9\n"));
        Assert.That(w.Correlation, Is.EqualTo(0));
        Assert.That(w.Input.Std, Is.EqualTo(0));
    }

    // Each bad input names the file and the offending line.
    [TestCase("bad.csv", "input_len,output_len\n10,20\n30\n", "line 3", "2 comma-separated fields")]
    [TestCase("bad.csv", "10,20\n30,abc\n", "line 2", "'abc' is not a number")]
    [TestCase("bad.csv", "10,20\n0,5\n", "line 2", "positive integer")]
    [TestCase("bad.csv", "10,20\n-3,5\n", "line 2", "positive integer")]
    [TestCase("bad.csv", "10,20\n\n12.5,5\n", "line 3", "not an integer")]
    [TestCase("bad.csv", "prompt,answer\n10,20\n", "line 1", "no column named input_len")]
    [TestCase("bad.csv", "input,input_len,output\n1,2,3\n", "line 1", "both 'input' and 'input_len'")]
    [TestCase("bad.jsonl", "{\"input_len\": 1, \"output_len\": 2}\n{\"input_len\": 1,\n", "line 2", "not valid JSON")]
    [TestCase("bad.jsonl", "{\"input_len\": 1, \"output_len\": 2}\n{\"input_len\": 1}\n", "line 2", "missing the output length")]
    [TestCase("bad.jsonl", "{\"input_len\": \"7\", \"output_len\": 2}\n", "line 1", "must be a number")]
    [TestCase("bad.jsonl", "{\"input_len\": 7.5, \"output_len\": 2}\n", "line 1", "not an integer")]
    [TestCase("bad.jsonl", "[1, 2]\n", "line 1", "expected an object")]
    [TestCase("bad.json", "[\n {\"input_len\": 1, \"output_len\": 2},\n {\"input_len\": 0, \"output_len\": 2}\n]", "line 3", "positive integer")]
    [TestCase("bad.json", "[\n {\"input_len\": 1, \"output_len\": 2},\n {\"input_len\": 1, \"output_len\": \n", "line", "not valid JSON")]
    public void BadRowsNameFileAndLine(string file, string text, string line, string problem)
    {
        string path = _files.Write(file, text);
        Assert.That(() => TraceReader.Load(path),
            Throws.TypeOf<SpecException>().With.Message.Contain(path).And.Message.Contain(line).And.Message.Contain(problem));
    }

    [Test]
    public void MissingEmptyAndUnknownFilesAreRejected()
    {
        string missing = Path.Combine(_files.Root, "missing.csv");
        Assert.That(() => TraceReader.Load(missing), Throws.TypeOf<SpecException>().With.Message.Contain(missing).And.Message.Contain("not found"));
        string empty = _files.Write("empty.csv", "");
        Assert.That(() => TraceReader.Load(empty), Throws.TypeOf<SpecException>().With.Message.Contain(empty).And.Message.Contain("no rows"));
        string headerOnly = _files.Write("header.csv", "input_len,output_len\n");
        Assert.That(() => TraceReader.Load(headerOnly), Throws.TypeOf<SpecException>().With.Message.Contain("no rows"));
        string parquet = _files.Write("t.parquet", "x");
        Assert.That(() => TraceReader.Load(parquet), Throws.TypeOf<SpecException>().With.Message.Contain(".csv, .jsonl or .json"));
    }
}
