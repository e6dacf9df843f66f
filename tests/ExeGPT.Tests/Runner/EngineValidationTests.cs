using ExeGPT.Runner;
using ExeGPT.Simulator;
using ExeGPT.Tests.Support;
using static ExeGPT.Tests.Runner.EngineTestKit;

namespace ExeGPT.Tests.Runner;

/// <summary>A request the engine cannot run is refused at once with an <see cref="ArgumentException"/> naming what is
/// wrong — before anything is queued, so it never reaches a stage thread — and the engine serves the next request;
/// limits the model cannot hold are refused at construction.</summary>
[TestFixture]
public sealed class EngineValidationTests
{
    private static readonly ExecutionLayout Layout = new(new Schedule(Policy.Rra, 2, 2), [new(0, 1, 0, 2)], []);
    private ExeGptEngine _engine = null!;

    [OneTimeSetUp]
    public void StartEngine() => _engine = new ExeGptEngine(Layout, Tiny(), new EngineLimits(8, 16));

    [OneTimeTearDown]
    public void StopEngine() => _engine.Dispose();

    private static IEnumerable<TestCaseData> BadRequests()
    {
        int[] ok = [1, 2, 3];
        yield return Case("empty prompt", new EngineRequest([], 4), "empty");
        yield return Case("null prompt", new EngineRequest(null!, 4), "empty");
        yield return Case("negative token", new EngineRequest([1, -1, 3], 4), "token id -1");
        yield return Case("token past the vocabulary", new EngineRequest([1, 2, 128], 4), "token id 128");
        yield return Case("prompt too long", new EngineRequest(Run.Tokens(9, 128, 3), 4), "at most 8");
        yield return Case("no new tokens", new EngineRequest(ok, 0), "MaxNewTokens is 0");
        yield return Case("too many new tokens", new EngineRequest(ok, 17), "MaxNewTokens is 17");
        yield return Case("zero temperature", new EngineRequest(ok, 4, new SamplingOptions(false, Temperature: 0)), "temperature");
        yield return Case("NaN temperature", new EngineRequest(ok, 4, new SamplingOptions(false, Temperature: float.NaN)), "temperature");
        yield return Case("zero top_p", new EngineRequest(ok, 4, new SamplingOptions(false, TopP: 0)), "top_p");
        yield return Case("top_p above 1", new EngineRequest(ok, 4, new SamplingOptions(false, TopP: 1.5f)), "top_p");
    }

    private static TestCaseData Case(string name, EngineRequest request, string says) =>
        new TestCaseData(request, says).SetArgDisplayNames(name);

    [TestCaseSource(nameof(BadRequests))]
    public async Task ABadRequestIsRefusedAndTheEngineServesOn(EngineRequest request, string says)
    {
        var refused = Assert.Throws<ArgumentException>(() => _engine.Submit(request));
        Assert.That(refused!.Message, Does.Contain(says));
        Assert.That(_engine.ActiveRequests, Is.Zero, "nothing was queued");

        var (tokens, metrics) = await Collect(_engine.Submit(new EngineRequest([5, 6, 7], 4))).WaitAsync(Guard);
        Assert.That(tokens, Has.Length.EqualTo(4));
        AssertFinished(metrics, 4, "the next request");
    }

    [Test]
    public void GenerateAsyncRefusesABadRequestAtTheFirstMove()
    {
        IAsyncEnumerator<int> tokens = _engine.GenerateAsync(new EngineRequest([], 4)).GetAsyncEnumerator();
        Assert.ThrowsAsync<ArgumentException>(async () => await tokens.MoveNextAsync());
    }

    [Test]
    public void ANullRequestIsRefused() => Assert.Throws<ArgumentNullException>(() => _engine.Submit(null!));

    [Test]
    public void ASecondEnumerationOfTheTokensIsRefused()
    {
        GenerationHandle handle = _engine.Submit(new EngineRequest([1, 2], 3));
        Assert.DoesNotThrowAsync(() => Collect(handle).WaitAsync(Guard));
        Assert.ThrowsAsync<InvalidOperationException>(async () => await handle.Tokens.GetAsyncEnumerator().MoveNextAsync());
    }

    private static IEnumerable<TestCaseData> BadLimits()
    {
        yield return new TestCaseData(new EngineLimits(0, 4), "MaxPromptTokens").SetArgDisplayNames("no prompt");
        yield return new TestCaseData(new EngineLimits(4, 0), "MaxNewTokens").SetArgDisplayNames("no new tokens");
        yield return new TestCaseData(new EngineLimits(100, 30), "129 positions").SetArgDisplayNames("past max_positions");
        yield return new TestCaseData(new EngineLimits(8, 16, ExpectedNewTokens: 17), "ExpectedNewTokens").SetArgDisplayNames("expected above max");
        yield return new TestCaseData(new EngineLimits(8, 16, ExpectedNewTokens: 0.5), "ExpectedNewTokens").SetArgDisplayNames("expected below 1");
    }

    [TestCaseSource(nameof(BadLimits))]
    public void LimitsTheModelCannotHoldAreRefused(EngineLimits limits, string says)
    {
        var refused = Assert.Throws<ArgumentException>(() => new ExeGptEngine(Layout, Tiny(), limits).Dispose());
        Assert.That(refused!.Message, Does.Contain(says));
    }
}
