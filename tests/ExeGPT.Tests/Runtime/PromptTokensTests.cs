using ExeGPT.Runtime;

namespace ExeGPT.Tests.Runtime;

/// <summary>The "ids by ',', prompts by ';'" text form the CLI takes; errors must point at the offending prompt and position.</summary>
[TestFixture]
public sealed class PromptTokensTests
{
    [Test]
    public void ParsesPromptsAndIds()
    {
        var prompts = PromptTokens.Parse("2,31414,232;2,100;7");
        Assert.That(prompts, Is.EqualTo(new[] { new[] { 2, 31414, 232 }, new[] { 2, 100 }, new[] { 7 } }));
    }

    [Test]
    public void IgnoresWhitespaceAroundIds()
    {
        var prompts = PromptTokens.Parse(" 2 , 5,7 ;\t9 ");
        Assert.That(prompts, Is.EqualTo(new[] { new[] { 2, 5, 7 }, new[] { 9 } }));
    }

    [Test]
    public void AcceptsTheLargestInt32()
    {
        Assert.That(PromptTokens.Parse("0,2147483647")[0], Is.EqualTo(new[] { 0, int.MaxValue }));
    }

    [TestCase("2,x,5", 0, 1, "'x'")]
    [TestCase("1;2,-3", 1, 1, "'-3'")]
    [TestCase("1;2;4,+5", 2, 1, "'+5'")]
    [TestCase("2147483648", 0, 0, "'2147483648'")]
    [TestCase("1.5", 0, 0, "'1.5'")]
    [TestCase("3,,4", 0, 1, "''")]
    [TestCase("3 4", 0, 0, "'3 4'")]
    public void RejectsBadIdsNamingPromptAndPosition(string text, int prompt, int position, string quotedId)
    {
        var ex = Assert.Throws<ArgumentException>(() => PromptTokens.Parse(text))!;
        Assert.That(ex.Message, Does.Contain($"Prompt {prompt}, position {position}"));
        Assert.That(ex.Message, Does.Contain(quotedId));
    }

    [TestCase("")]
    [TestCase("   ")]
    public void RejectsEmptyText(string text)
    {
        Assert.Throws<ArgumentException>(() => PromptTokens.Parse(text));
    }

    [Test]
    public void RejectsNull()
    {
        Assert.Throws<ArgumentNullException>(() => PromptTokens.Parse(null!));
    }

    // Dropping an empty segment would silently renumber every later prompt in error messages and outputs.
    [TestCase("2,5;", 1)]
    [TestCase(";2,5", 0)]
    [TestCase("2;;5", 1)]
    [TestCase("2; ;5", 1)]
    public void RejectsEmptyPromptNamingIt(string text, int emptyPrompt)
    {
        var ex = Assert.Throws<ArgumentException>(() => PromptTokens.Parse(text))!;
        Assert.That(ex.Message, Does.Contain($"Prompt {emptyPrompt} is empty"));
    }

    [Test]
    public void FormatsIdsWithCommasOnly()
    {
        Assert.That(PromptTokens.Format([2, 31414, 232]), Is.EqualTo("2,31414,232"));
        Assert.That(PromptTokens.Format([0]), Is.EqualTo("0"));
        Assert.That(PromptTokens.Format([]), Is.EqualTo(""));
    }

    [Test]
    public void FormatThenParseRoundTrips()
    {
        int[] tokens = [2, 50271, 0, 17, int.MaxValue];
        Assert.That(PromptTokens.Parse(PromptTokens.Format(tokens)), Is.EqualTo(new[] { tokens }));
    }
}
