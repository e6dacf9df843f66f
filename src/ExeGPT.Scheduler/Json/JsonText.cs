using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ExeGPT.Scheduler.Json;

/// <summary>Small helpers shared by the writers.</summary>
internal static class JsonText
{
    /// <summary>The UTF-16 text <paramref name="write"/> produces.</summary>
    public static string Of(Action<Utf8JsonWriter> write, bool indented)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = indented,
            // Reports go to terminals and files, not HTML: keep '<', '>', '&' and non-ASCII readable.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
            write(writer);
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>A number, or null when it is NaN or infinite (unknown, or no bound): JSON has no such numbers.</summary>
    public static void NumberOrNull(this Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsFinite(value))
            writer.WriteNumber(name, value);
        else
            writer.WriteNull(name);
    }

    /// <summary>A number, or null when absent or not finite.</summary>
    public static void NumberOrNull(this Utf8JsonWriter writer, string name, double? value)
    {
        if (value is double v)
            writer.NumberOrNull(name, v);
        else
            writer.WriteNull(name);
    }

    /// <summary>A string, or null.</summary>
    public static void StringOrNull(this Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
            writer.WriteNull(name);
        else
            writer.WriteString(name, value);
    }
}
