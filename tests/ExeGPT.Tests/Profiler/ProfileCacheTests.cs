using ExeGPT.Core.Profiles;
using ExeGPT.Profiler;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Profiler;

/// <summary><see cref="XProfiler.ProfileCached"/>: the second request for the same setup reads the file the first
/// wrote (no point is measured again); another grid is another entry; a corrupt entry is measured again.</summary>
[TestFixture]
[NonParallelizable] // one test sets process-wide environment variables
public sealed class ProfileCacheTests
{
    private static ProfileRequest Request(params int[] batches) =>
        new(ModelConfigs.Preset("tiny"), "tiny", new ProfileGrid(batches, [4, 8], Repeats: 1), Threads: 1);

    [Test]
    public void TheSecondRequestIsServedFromTheCacheWithoutMeasuring()
    {
        using var dir = new TempDirectory("profile-cache");
        var first = new List<ProfileProgress>();
        ProfileTables measured = XProfiler.ProfileCached(Request(1, 2), dir.Path, new XProfilerTests.SyncProgress(first), out bool hit);
        Assert.That(hit, Is.False);
        Assert.That(first, Is.Not.Empty);
        Assert.That(File.Exists(XProfiler.CachePath(Request(1, 2), dir.Path)), Is.True);

        var second = new List<ProfileProgress>();
        ProfileTables cached = XProfiler.ProfileCached(Request(1, 2), dir.Path, new XProfilerTests.SyncProgress(second), out hit);
        Assert.That(hit, Is.True);
        Assert.That(second, Is.Empty, "nothing measured");
        Assert.That(ProfileJson.ToJson(cached), Is.EqualTo(ProfileJson.ToJson(measured)), "the same profile, every number");
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(1), "no temporary file left behind");
    }

    [Test]
    public void AnotherGridIsAMiss()
    {
        using var dir = new TempDirectory("profile-cache");
        XProfiler.ProfileCached(Request(1, 2), dir.Path, null, out bool hit);
        Assert.That(hit, Is.False);
        Assert.That(XProfiler.CachePath(Request(1, 4), dir.Path), Is.Not.EqualTo(XProfiler.CachePath(Request(1, 2), dir.Path)));

        var seen = new List<ProfileProgress>();
        ProfileTables other = XProfiler.ProfileCached(Request(1, 4), dir.Path, new XProfilerTests.SyncProgress(seen), out hit);
        Assert.That(hit, Is.False);
        Assert.That(seen, Is.Not.Empty);
        Assert.That(other.Layers[0].EncoderAttention.Rows.Points, Is.EqualTo(new double[] { 1, 4 }));
    }

    [Test]
    public void ACorruptEntryIsMeasuredAgainAndReplaced()
    {
        using var dir = new TempDirectory("profile-cache");
        string path = XProfiler.CachePath(Request(1, 2), dir.Path);
        File.WriteAllText(path, "{\"format\": \"exegpt-profile\", \"version\": 1, \"kind\": ");

        var seen = new List<ProfileProgress>();
        ProfileTables profile = XProfiler.ProfileCached(Request(1, 2), dir.Path, new XProfilerTests.SyncProgress(seen), out bool hit);
        Assert.That(hit, Is.False);
        Assert.That(seen, Is.Not.Empty, "measured");
        Assert.That(ProfileJson.ToJson(ProfileJson.Read(path)), Is.EqualTo(ProfileJson.ToJson(profile)), "the entry now holds the new profile");
    }

    [Test]
    public void TheDefaultFolderFollowsTheEnvironment()
    {
        string? explicitDir = Environment.GetEnvironmentVariable(ProfileCache.DirectoryVariable);
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable(ProfileCache.DirectoryVariable, "/tmp/exegpt-cache-here");
            Assert.That(ProfileCache.DefaultDirectory(), Is.EqualTo("/tmp/exegpt-cache-here"));
            Environment.SetEnvironmentVariable(ProfileCache.DirectoryVariable, null);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg");
            Assert.That(ProfileCache.DefaultDirectory(), Is.EqualTo("/tmp/xdg/exegpt/profiles"));
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            Assert.That(ProfileCache.DefaultDirectory(), Is.EqualTo(Path.Combine(home, ".cache", "exegpt", "profiles")));
        }
        finally
        {
            Environment.SetEnvironmentVariable(ProfileCache.DirectoryVariable, explicitDir);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", xdg);
        }
    }
}
