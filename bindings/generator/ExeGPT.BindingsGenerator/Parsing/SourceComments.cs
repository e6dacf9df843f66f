using System.Text;

namespace ExeGPT.BindingsGenerator.Parsing;

/// <summary>
/// Finds the comment that documents a declaration by looking at the header text itself: libclang attaches only
/// doc-style comments, and the header uses plain <c>/* */</c> ones (above a declaration, or trailing on its line).
/// Works on bytes because libclang reports byte offsets and the header is UTF-8.
/// </summary>
internal sealed class SourceComments
{
    private readonly byte[] _text;
    private readonly List<(int Start, int End)> _comments = []; // [Start, End) byte offsets, ascending
    private readonly Dictionary<int, int> _byStart = [];

    public SourceComments(byte[] text)
    {
        _text = text;
        Scan();
        for (var i = 0; i < _comments.Count; i++)
            _byStart[_comments[i].Start] = i;
    }

    private void Scan()
    {
        var t = _text;
        for (var i = 0; i < t.Length; i++)
        {
            var c = t[i];
            if (c is (byte)'"' or (byte)'\'')
            {
                // Skip literals so a "/*" inside a string is not a comment.
                for (i++; i < t.Length && t[i] != c && t[i] != '\n'; i++)
                {
                    if (t[i] == '\\')
                        i++;
                }
            }
            else if (c == '/' && i + 1 < t.Length && t[i + 1] == '*')
            {
                var end = IndexOf(t, "*/"u8, i + 2);
                end = end < 0 ? t.Length : end + 2;
                _comments.Add((i, end));
                i = end - 1;
            }
            else if (c == '/' && i + 1 < t.Length && t[i + 1] == '/')
            {
                var end = Array.IndexOf(t, (byte)'\n', i);
                end = end < 0 ? t.Length : end;
                _comments.Add((i, end));
                i = end - 1;
            }
        }
    }

    private static int IndexOf(byte[] t, ReadOnlySpan<byte> value, int from)
    {
        var at = t.AsSpan(from).IndexOf(value);
        return at < 0 ? -1 : from + at;
    }

    /// <summary>The comment block directly above <paramref name="declStart"/> (no blank line between), or null.</summary>
    public string? Leading(int declStart)
    {
        var parts = new List<string>();
        var pos = declStart;
        for (var i = LastEndingAtOrBefore(pos); i >= 0; i--)
        {
            var (start, end) = _comments[i];
            if (!OnlyWhitespace(end, pos, maxNewlines: 1) || !StartsLine(start))
                break;
            var cleaned = Clean(start, end);
            if (!IsBanner(cleaned))
                parts.Insert(0, cleaned);
            pos = start;
        }
        return parts.Count == 0 ? null : string.Join("\n", parts);
    }

    /// <summary>A comment on the same line right after a declaration ending at <paramref name="declEnd"/> (after an optional , or ;).</summary>
    public string? Trailing(int declEnd)
    {
        var p = SkipBlanks(declEnd);
        if (p < _text.Length && _text[p] is (byte)',' or (byte)';')
            p = SkipBlanks(p + 1);
        return _byStart.TryGetValue(p, out var i) ? Clean(_comments[i].Start, _comments[i].End) : null;
    }

    private int SkipBlanks(int p)
    {
        while (p < _text.Length && _text[p] is (byte)' ' or (byte)'\t')
            p++;
        return p;
    }

    private int LastEndingAtOrBefore(int pos)
    {
        var result = -1;
        for (var i = 0; i < _comments.Count && _comments[i].End <= pos; i++)
            result = i;
        return result;
    }

    private bool OnlyWhitespace(int from, int to, int maxNewlines)
    {
        var newlines = 0;
        for (var i = from; i < to; i++)
        {
            var c = _text[i];
            if (c == '\n')
                newlines++;
            else if (c is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
                return false;
        }
        return newlines <= maxNewlines;
    }

    private bool StartsLine(int start)
    {
        for (var i = start - 1; i >= 0 && _text[i] != '\n'; i--)
        {
            if (_text[i] is not ((byte)' ' or (byte)'\t'))
                return false;
        }
        return true;
    }

    private static bool IsBanner(string text) => text.All(c => c is '-' or '=' or '*' or ' ' or '\n');

    /// <summary>Comment text without delimiters and the " * " margin of block comments.</summary>
    private string Clean(int start, int end)
    {
        var raw = Encoding.UTF8.GetString(_text, start, end - start);
        raw = raw.StartsWith("/*", StringComparison.Ordinal)
            ? raw[2..(raw.EndsWith("*/", StringComparison.Ordinal) ? raw.Length - 2 : raw.Length)]
            : raw.TrimStart('/');
        var lines = raw.Replace("\r", "", StringComparison.Ordinal).Split('\n')
            .Select(l => l.Trim())
            .Select(l => l.StartsWith('*') ? l[1..].TrimStart() : l)
            .ToList();
        while (lines.Count > 0 && lines[0].Length == 0)
            lines.RemoveAt(0);
        while (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        return string.Join("\n", lines);
    }
}
