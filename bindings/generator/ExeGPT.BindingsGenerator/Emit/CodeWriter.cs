using System.Text;

namespace ExeGPT.BindingsGenerator.Emit;

/// <summary>Line-oriented text builder: LF line endings and four-space indents regardless of the host OS.</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private int _indent;

    public CodeWriter Line(string line = "")
    {
        if (line.Length > 0)
            _text.Append(' ', _indent * 4).Append(line);
        _text.Append('\n');
        return this;
    }

    public CodeWriter Open()
    {
        Line("{");
        _indent++;
        return this;
    }

    public CodeWriter Close(string suffix = "")
    {
        _indent--;
        return Line("}" + suffix);
    }

    /// <summary>An XML doc summary from a header comment; nothing when there is none.</summary>
    public CodeWriter Doc(string? comment)
    {
        if (string.IsNullOrWhiteSpace(comment))
            return this;
        var lines = comment.Split('\n').Select(Escape).ToArray();
        if (lines.Length == 1)
            return Line($"/// <summary>{lines[0]}</summary>");
        Line("/// <summary>");
        foreach (var line in lines)
            Line(line.Length == 0 ? "///" : $"/// {line}");
        return Line("/// </summary>");
    }

    private static string Escape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal)
            .Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal);

    public override string ToString() => _text.ToString();
}
