namespace ExeGPT.Tests.Support;

/// <summary>Checks that a native failure is reported with the right status and a message naming the culprit.</summary>
public static class ErrorAssert
{
    public static ExgException Throws(TestDelegate call, exg_status status, params string[] anyKeyword) =>
        ThrowsOneOf(call, [status], anyKeyword);

    /// <summary>For failures the header leaves open between statuses (e.g. FORMAT vs UNSUPPORTED for an unknown dtype).</summary>
    public static ExgException ThrowsOneOf(TestDelegate call, exg_status[] statuses, params string[] anyKeyword)
    {
        var ex = Assert.Throws<ExgException>(call)!;
        TestContext.Out.WriteLine($"{ex.Status}: {ex.Message}"); // the wording is for people: keep it visible in the log
        Assert.That(statuses, Does.Contain(ex.Status), $"unexpected status {ex.Status}: {ex.Message}");
        Assert.That(ex.Message, Is.Not.Empty, "a failure must carry a message");
        if (anyKeyword.Length > 0)
        {
            Assert.That(anyKeyword.Any(k => ex.Message.Contains(k, StringComparison.OrdinalIgnoreCase)), Is.True,
                $"message \"{ex.Message}\" names none of: {string.Join(", ", anyKeyword)}");
        }

        return ex;
    }
}
