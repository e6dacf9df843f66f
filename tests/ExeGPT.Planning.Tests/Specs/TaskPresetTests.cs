using ExeGPT.Core;
using ExeGPT.Core.Workloads;

namespace ExeGPT.Planning.Tests.Specs;

public class TaskPresetTests
{
    // Table 3's output 99th percentiles, as printed.
    [TestCase("S", 63)]
    [TestCase("T", 292)]
    [TestCase("G", 417)]
    [TestCase("C1", 137)]
    [TestCase("C2", 579)]
    public void Output99thPercentileMatchesTable3(string id, int p99)
    {
        Assert.That(TaskPresets.Get(id).Output.Quantile(0.99), Is.InRange(p99 - 3, p99 + 3));
    }

    [Test]
    public void RangesAndMomentsFollowTable3()
    {
        foreach (TaskDefinition t in TaskPresets.Table3)
        {
            WorkloadSpec w = TaskPresets.Get(t.Id);
            Assert.That((w.Input.Max, w.Output.Max, w.Input.Min, w.Output.Min), Is.EqualTo((t.InputMax, t.OutputMax, 1, 1)), t.Id);
            Assert.That(w.Correlation, Is.EqualTo(0), t.Id);
            // Outputs: the printed avg/std are the distribution's own.
            Assert.That(w.Output.Mean, Is.EqualTo(t.OutputMean).Within(1e-6), t.Id);
            Assert.That(w.Output.Std, Is.EqualTo(t.OutputStd).Within(1e-6), t.Id);
        }
    }

    [Test]
    public void UnreachableInputStdsFallBackToTheUnderlyingNormal()
    {
        // S: std 252 on [1, 512] and T: std 81 on [1, 256] exceed the uniform's 147.8 and 73.9.
        LengthDistribution s = TaskPresets.Get("S").Input, t = TaskPresets.Get("T").Input;
        Assert.That(s.Description, Does.Contain("N(256, 252^2)"));
        Assert.That(t.Description, Does.Contain("N(128, 81^2)"));
        Assert.That(s.Mean, Is.EqualTo(256).Within(1));   // symmetric around the range's centre
        Assert.That(s.Std, Is.LessThan(148));
        // G, C1, C2 inputs are reachable, so they keep the printed moments.
        Assert.That(TaskPresets.Get("C1").Input.Std, Is.EqualTo(115).Within(1e-6));
    }

    [Test]
    public void LookupAndCorrelation()
    {
        Assert.That(TaskPresets.Names, Is.EqualTo(new[] { "S", "T", "G", "C1", "C2" }));
        Assert.That(TaskPresets.Get("c1").Name, Is.EqualTo("C1"));
        Assert.That(TaskPresets.Get("T", correlation: 0.8).Correlation, Is.EqualTo(0.8));
        Assert.That(() => TaskPresets.Get("T", 1.5), Throws.TypeOf<SpecException>().With.Message.Contain("[-1, 1]"));
        Assert.That(() => TaskPresets.Get("X"), Throws.TypeOf<SpecException>().With.Message.Contain("S, T, G, C1, C2"));
    }

    [Test]
    public void ResolverTakesTaskIdsAndTracePaths()
    {
        using var files = new TempFiles();
        string trace = files.Write("mine.csv", "input_len,output_len\n10,20\n30,40\n");
        Assert.That(WorkloadResolver.Resolve("g").Name, Is.EqualTo("G"));
        Assert.That(WorkloadResolver.Resolve(trace).Name, Is.EqualTo("mine.csv"));
        Assert.That(() => WorkloadResolver.Resolve("nothing.csv"),
            Throws.TypeOf<SpecException>().With.Message.Contain("'nothing.csv'").And.Message.Contain("C2"));
    }
}
