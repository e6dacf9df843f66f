using System.Text;
using System.Text.Json;
using ExeGPT.Tests.Reference;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>Reads F32/F16/BF16 safetensors back (e.g. what the engine saved) so the reference can run on them.</summary>
public static class SafetensorsReader
{
    public sealed record StoredTensor(string Dtype, Tensor Tensor);

    public static Dictionary<string, StoredTensor> ReadFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        ulong headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)bytes.Length - 8)
        {
            throw new InvalidDataException($"{path}: header length {headerLength} exceeds the file");
        }

        int dataStart = 8 + (int)headerLength;
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength));
        var result = new Dictionary<string, StoredTensor>();
        foreach (var property in header.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                continue;
            }

            string dtype = property.Value.GetProperty("dtype").GetString()!;
            var shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
            var raw = bytes.AsSpan(dataStart + (int)offsets[0], (int)(offsets[1] - offsets[0]));
            var values = DtypeCodec.Decode(raw, DtypeCodec.Parse(dtype));
            result[property.Name] = new StoredTensor(dtype, new Tensor(shape, values));
        }

        return result;
    }

    /// <summary>Every tensor of a checkpoint directory, sharded (index file) or not.</summary>
    public static Dictionary<string, StoredTensor> ReadDirectory(string dir)
    {
        string index = Path.Combine(dir, ShardedSafetensorsWriter.IndexFileName);
        var files = File.Exists(index)
            ? ReadWeightMapFiles(index)
            : Directory.GetFiles(dir, "*.safetensors").Select(Path.GetFileName).OfType<string>().ToList();
        var all = new Dictionary<string, StoredTensor>();
        foreach (var file in files)
        {
            foreach (var (name, tensor) in ReadFile(Path.Combine(dir, file)))
            {
                all.Add(name, tensor);
            }
        }

        return all;
    }

    private static List<string> ReadWeightMapFiles(string index)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(index));
        return doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct().ToList();
    }
}
