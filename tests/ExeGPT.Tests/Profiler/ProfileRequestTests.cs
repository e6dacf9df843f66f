using ExeGPT.Core;
using ExeGPT.Profiler;

namespace ExeGPT.Tests.Profiler;

/// <summary>Impossible rank and TP settings are refused before anything is built, naming the bad value.</summary>
[TestFixture]
public sealed class ProfileRequestTests
{
    private static readonly ProfileGrid Grid = new([1], [4], Repeats: 1);

    // tiny: 4 heads, FFN 128.
    [TestCase(0, new[] { 1 }, "ranks must be at least 1, got 0")]
    [TestCase(2, new[] { 3 }, "tensor-parallel degree 3 does not divide the 2 rank(s)")]
    [TestCase(3, new[] { 3 }, "tensor-parallel degree 3 does not divide model 'tiny''s 4 heads")]
    [TestCase(2, new[] { 0 }, "tensor-parallel degree must be positive, got 0")]
    [TestCase(2, new[] { 2, 2 }, "tensor-parallel degree 2 is listed twice")]
    public void BadRanksOrDegreesAreSpecErrors(int ranks, int[] degrees, string message)
    {
        var request = new ProfileRequest(ModelConfigs.Preset("tiny"), "tiny", Grid, Ranks: ranks, TensorParallel: degrees);
        var e = Assert.Throws<SpecException>(() => XProfiler.Profile(request));
        Assert.That(e!.Message, Does.Contain(message));
    }

    [Test]
    public void AMissingKernelLibraryIsASpecError()
    {
        var request = new ProfileRequest(ModelConfigs.Preset("tiny"), "tiny", Grid, KernelLibrary: "/nonexistent/libkernels.so");
        var e = Assert.Throws<SpecException>(() => XProfiler.Profile(request));
        Assert.That(e!.Message, Does.Contain("/nonexistent/libkernels.so"));
    }

    [Test]
    public void ThreadsPerRankShareTheCoresUnlessGiven()
    {
        var shared = new ProfileRequest(ModelConfigs.Preset("tiny"), "tiny", Grid, Ranks: 2);
        Assert.That(shared.ThreadsPerRank, Is.EqualTo(Math.Max(1, Environment.ProcessorCount / 2)));
        Assert.That((shared with { Threads = 3 }).ThreadsPerRank, Is.EqualTo(3), "Threads is per rank");
        Assert.That((shared with { Ranks = 4 * Environment.ProcessorCount }).ThreadsPerRank, Is.EqualTo(1), "never below one");
        Assert.That(shared.Degrees, Is.EqualTo(new[] { 1 }), "TP degree 1 by default");
    }
}
