using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ExeGPT.Core.Workloads;

/// <summary>Loads an empirical workload: one (input length, output length) row per query, from CSV or
/// JSON lines. The rows are kept for sampling (so their correlation carries over); the marginals become
/// empirical <see cref="LengthDistribution"/>s and <see cref="WorkloadSpec.Correlation"/> the sample
/// Pearson r.</summary>
/// <remarks>
/// <list type="bullet">
/// <item>CSV (<c>.csv</c>): an optional header naming the columns (<c>input_len</c>/<c>input</c>/<c>prompt_tokens</c>
/// and <c>output_len</c>/<c>output</c>/<c>completion_tokens</c>; other columns are ignored); without a header,
/// exactly two columns, input then output. Blank lines and lines starting with <c>#</c> are skipped.</item>
/// <item>JSON lines (<c>.jsonl</c>, or <c>.json</c>): one object per line with the same key names; a
/// <c>.json</c> file may instead hold one array of such objects.</item>
/// </list>
/// Lengths are positive integers (<c>12</c> or <c>12.0</c>, not <c>12.5</c>) up to
/// <see cref="TruncatedNormal.MaxSpan"/>.</remarks>
public static class TraceReader
{
    private static readonly string[] InputNames = ["input_len", "input", "prompt_tokens"];
    private static readonly string[] OutputNames = ["output_len", "output", "completion_tokens"];

    /// <summary>Reads the trace at <paramref name="path"/>, choosing the format by extension.</summary>
    /// <exception cref="SpecException">Missing, empty or unreadable file, unknown extension, or a bad row;
    /// the message names the file and, for a row, its line.</exception>
    public static WorkloadSpec Load(string path)
    {
        if (!File.Exists(path))
            throw new SpecException($"trace '{path}': file not found");
        string extension = Path.GetExtension(path).ToLowerInvariant();
        string name = Path.GetFileName(path);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpecException($"trace '{path}': cannot be read: {e.Message}", e);
        }
        List<QueryLengths> rows = extension switch
        {
            ".csv" => ParseCsv(text, path),
            ".jsonl" => ParseJsonLines(text, path),
            ".json" => text.AsSpan().TrimStart().StartsWith("[") ? ParseJsonArray(text, path) : ParseJsonLines(text, path),
            _ => throw new SpecException($"trace '{path}': unknown format '{extension}' (expected .csv, .jsonl or .json)"),
        };
        if (rows.Count == 0)
            throw new SpecException($"trace '{path}': no rows (expected (input, output) length pairs)");
        return FromRows(name, rows);
    }

    /// <summary>The workload of <paramref name="rows"/>: empirical marginals, their Pearson r, the rows kept.</summary>
    /// <exception cref="SpecException">No rows, or a length outside 1..<see cref="TruncatedNormal.MaxSpan"/>.</exception>
    public static WorkloadSpec FromRows(string name, IReadOnlyList<QueryLengths> rows)
    {
        if (rows.Count == 0)
            throw new SpecException($"trace '{name}': no rows");
        foreach (QueryLengths row in rows)
            if (row.InputLength is < 1 or > TruncatedNormal.MaxSpan || row.OutputLength is < 1 or > TruncatedNormal.MaxSpan)
                throw new SpecException($"trace '{name}': lengths must be in 1..{TruncatedNormal.MaxSpan}, got ({row.InputLength}, {row.OutputLength})");
        var copy = rows.ToArray();
        return new WorkloadSpec(name,
            Empirical($"{name} input", copy, r => r.InputLength),
            Empirical($"{name} output", copy, r => r.OutputLength),
            Pearson(copy),
            copy);
    }

    /// <summary>Sample Pearson correlation of input and output lengths; 0 when either is constant.</summary>
    public static double Pearson(IReadOnlyList<QueryLengths> rows)
    {
        double mx = 0, my = 0;
        foreach (QueryLengths r in rows) { mx += r.InputLength; my += r.OutputLength; }
        mx /= rows.Count;
        my /= rows.Count;
        double sxy = 0, sxx = 0, syy = 0;
        foreach (QueryLengths r in rows)
        {
            double dx = r.InputLength - mx, dy = r.OutputLength - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return sxx > 0 && syy > 0 ? Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1, 1) : 0;
    }

    private static LengthDistribution Empirical(string description, QueryLengths[] rows, Func<QueryLengths, int> length)
    {
        int min = int.MaxValue, max = 0;
        foreach (QueryLengths r in rows)
        {
            min = Math.Min(min, length(r));
            max = Math.Max(max, length(r));
        }
        var counts = new double[max - min + 1];
        foreach (QueryLengths r in rows)
            counts[length(r) - min]++;
        return new LengthDistribution(description, min, counts);
    }

    private static List<QueryLengths> ParseCsv(string text, string file)
    {
        var rows = new List<QueryLengths>();
        int inputColumn = 0, outputColumn = 1, columns = 2;
        bool first = true;
        int lineNumber = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.TrimEnd('\r').Trim();
            if (lineNumber == 1) line = line.TrimStart('\uFEFF');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string[] fields = line.Split(',');
            for (int i = 0; i < fields.Length; i++)
                fields[i] = fields[i].Trim().Trim('"').Trim();

            if (first)
            {
                first = false;
                if (!LooksNumeric(fields[0]))
                {
                    inputColumn = FindColumn(fields, InputNames, file, lineNumber);
                    outputColumn = FindColumn(fields, OutputNames, file, lineNumber);
                    columns = fields.Length;
                    continue;
                }
            }
            if (fields.Length != columns)
                throw Bad(file, lineNumber, $"expected {columns} comma-separated fields, got {fields.Length}");
            rows.Add(new QueryLengths(
                ParseLength(fields[inputColumn], "input", file, lineNumber),
                ParseLength(fields[outputColumn], "output", file, lineNumber)));
        }
        return rows;
    }

    private static bool LooksNumeric(string field) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static int FindColumn(string[] header, string[] names, string file, int line)
    {
        int found = -1;
        for (int i = 0; i < header.Length; i++)
        {
            if (!names.Contains(header[i].ToLowerInvariant())) continue;
            if (found >= 0)
                throw Bad(file, line, $"header has both '{header[found]}' and '{header[i]}'");
            found = i;
        }
        if (found < 0)
            throw Bad(file, line, $"header '{string.Join(",", header)}' has no column named {string.Join(" / ", names)}");
        return found;
    }

    private static int ParseLength(string field, string what, string file, int line)
    {
        if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            throw Bad(file, line, $"{what} length '{field}' is not a number");
        return CheckLength(value, field, what, file, line);
    }

    private static int CheckLength(double value, string text, string what, string file, int line)
    {
        if (!(value >= 1) || value > TruncatedNormal.MaxSpan)
            throw Bad(file, line, $"{what} length {text} must be a positive integer up to {TruncatedNormal.MaxSpan}");
        if (value != Math.Floor(value))
            throw Bad(file, line, $"{what} length {text} is not an integer");
        return (int)value;
    }

    private static List<QueryLengths> ParseJsonLines(string text, string file)
    {
        var rows = new List<QueryLengths>();
        int lineNumber = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.Trim().TrimStart('\uFEFF');
            if (line.Length == 0) continue;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw Bad(file, lineNumber, $"not valid JSON ({e.Message})");
            }
            using (document)
                rows.Add(FromObject(document.RootElement, file, lineNumber));
        }
        return rows;
    }

    // A whole-file JSON array: Utf8JsonReader gives each element's byte offset, from which its line is
    // counted, so errors still point at a line.
    private static List<QueryLengths> ParseJsonArray(string text, string file)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var rows = new List<QueryLengths>();
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        int line = 1;
        long counted = 0;
        try
        {
            reader.Read();   // the '['
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                line += bytes.AsSpan((int)counted, (int)(reader.TokenStartIndex - counted)).Count((byte)'\n');
                counted = reader.TokenStartIndex;
                using JsonDocument element = JsonDocument.ParseValue(ref reader);
                rows.Add(FromObject(element.RootElement, file, line));
            }
            if (reader.TokenType != JsonTokenType.EndArray)
                throw Bad(file, line, "the JSON array is not closed");
            while (reader.Read()) { }   // trailing content is a syntax error the reader reports
        }
        catch (JsonException e)
        {
            throw Bad(file, (int)(e.LineNumber ?? 0) + 1, $"not valid JSON ({e.Message})");
        }
        return rows;
    }

    private static QueryLengths FromObject(JsonElement element, string file, int line)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw Bad(file, line, $"expected an object with input_len and output_len, got a JSON {element.ValueKind.ToString().ToLowerInvariant()}");
        return new QueryLengths(Property(element, InputNames, "input", file, line), Property(element, OutputNames, "output", file, line));
    }

    private static int Property(JsonElement element, string[] names, string what, string file, int line)
    {
        JsonElement? found = null;
        string foundName = "";
        foreach (string name in names)
        {
            if (!element.TryGetProperty(name, out JsonElement value)) continue;
            if (found is not null)
                throw Bad(file, line, $"has both '{foundName}' and '{name}'");
            found = value;
            foundName = name;
        }
        if (found is not JsonElement v)
            throw Bad(file, line, $"missing the {what} length (a key named {string.Join(" / ", names)})");
        if (v.ValueKind != JsonValueKind.Number)
            throw Bad(file, line, $"'{foundName}' must be a number, got {v.GetRawText()}");
        return CheckLength(v.GetDouble(), v.GetRawText(), what, file, line);
    }

    private static SpecException Bad(string file, int line, string problem) =>
        new($"trace '{file}' line {line}: {problem}");
}
