using System.Text;
using System.Text.Json;
using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>One tensor as it goes into a safetensors file: any dtype string, any shape, raw bytes.</summary>
/// <remarks>Kept raw so that broken files (unknown dtypes, shapes that disagree with the bytes) can be written too.</remarks>
public sealed record SafetensorsEntry(string Name, string Dtype, long[] Shape, byte[] Data)
{
    public static SafetensorsEntry From(string name, Tensor tensor, CheckpointDtype dtype) =>
        new(name, dtype.SafetensorsName(), tensor.Shape.Select(d => (long)d).ToArray(), DtypeCodec.Encode(tensor.Data, dtype));
}

/// <summary>
/// Writes the safetensors format: an 8-byte little-endian header length, a JSON header mapping each
/// tensor name to dtype, shape and [begin, end) byte offsets into the data section, an optional
/// "__metadata__" string map, then the tensors' little-endian bytes back to back.
/// </summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<SafetensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = entries.ToList();
        var header = Header(list, metadata ?? new Dictionary<string, string> { ["format"] = "pt" });

        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        file.Write(length);
        file.Write(header);
        foreach (var e in list)
        {
            file.Write(e.Data);
        }
    }

    /// <summary>The JSON header, space-padded to a multiple of 8 bytes as the reference implementation does.</summary>
    public static byte[] Header(IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata)
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();

            long offset = 0;
            foreach (var e in entries)
            {
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", e.Dtype);
                json.WriteStartArray("shape");
                foreach (var d in e.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + e.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += e.Data.Length;
            }

            json.WriteEndObject();
        }

        var text = Encoding.UTF8.GetString(buffer.ToArray());
        int padded = (text.Length + 7) / 8 * 8;
        return Encoding.UTF8.GetBytes(text.PadRight(padded));
    }
}
