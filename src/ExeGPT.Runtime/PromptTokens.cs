using System.Globalization;

namespace ExeGPT.Runtime;

/// <summary>The text form of a batch of tokenised prompts: ids separated by ',' and prompts by ';'
/// (e.g. "2,31414,232;2,100"); whitespace around ids is ignored.</summary>
public static class PromptTokens
{
    /// <summary>Parses the text form. An empty segment (e.g. a trailing ';') is an error, as
    /// silently dropping it would shift the indices every later message names.</summary>
    /// <exception cref="ArgumentException">Empty text, an empty prompt, or an id that is not a
    /// non-negative 32-bit integer; the message names the prompt and the position.</exception>
    public static IReadOnlyList<int[]> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
            throw new ArgumentException("No prompt tokens given.", nameof(text));

        string[] segments = text.Split(';');
        var prompts = new int[segments.Length][];
        for (int i = 0; i < segments.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(segments[i]))
                throw new ArgumentException($"Prompt {i} is empty (text: '{text}').", nameof(text));
            string[] ids = segments[i].Split(',');
            prompts[i] = new int[ids.Length];
            for (int j = 0; j < ids.Length; j++)
            {
                string id = ids[j].Trim();
                if (!int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out prompts[i][j]))
                    throw new ArgumentException(
                        $"Prompt {i}, position {j}: '{id}' is not a token id (a non-negative integer).", nameof(text));
            }
        }
        return prompts;
    }

    /// <summary>The text form of one prompt (ids joined by ',').</summary>
    public static string Format(ReadOnlySpan<int> tokens)
    {
        var text = new System.Text.StringBuilder(tokens.Length * 6);
        for (int i = 0; i < tokens.Length; i++)
        {
            if (i > 0)
                text.Append(',');
            text.Append(tokens[i].ToString(CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }
}
