using System.Text.Json.Nodes;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>Deliberate damage to a written (unsharded) <see cref="TinyOptCheckpoint"/>, one defect at a time.</summary>
public static class BrokenCheckpoint
{
    /// <summary>Cuts the weights file so its last tensors lose their bytes.</summary>
    public static void Truncate(TinyOptCheckpoint c, int bytesToCut)
    {
        using var file = new FileStream(c.WeightsFile, FileMode.Open, FileAccess.Write);
        file.SetLength(file.Length - bytesToCut);
    }

    /// <summary>Rewrites the 8-byte header length to point past the end of the file.</summary>
    public static void OverstateHeaderLength(TinyOptCheckpoint c)
    {
        var bytes = File.ReadAllBytes(c.WeightsFile);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bytes.Length + 1000);
        File.WriteAllBytes(c.WeightsFile, bytes);
    }

    /// <summary>Replaces the JSON header with bytes that are not JSON, keeping its length.</summary>
    public static void GarbleHeader(TinyOptCheckpoint c)
    {
        var bytes = File.ReadAllBytes(c.WeightsFile);
        int length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        bytes.AsSpan(8, length).Fill((byte)'#');
        File.WriteAllBytes(c.WeightsFile, bytes);
    }

    public static void RemoveTensor(TinyOptCheckpoint c, string name) =>
        RewriteWeights(c, entries => entries.RemoveAll(e => e.Name == name));

    /// <summary>Declares a new shape; the bytes follow the element count so only the shape check can catch it.</summary>
    public static void ReshapeTensor(TinyOptCheckpoint c, string name, long[] shape) =>
        RewriteWeights(c, entries => Replace(entries, name, e =>
        {
            long count = shape.Aggregate(1L, (n, d) => n * d);
            long elementBytes = e.Data.Length / e.Shape.Aggregate(1L, (n, d) => n * d);
            var data = new byte[count * elementBytes];
            Array.Copy(e.Data, data, Math.Min(e.Data.Length, data.Length));
            return e with { Shape = shape, Data = data };
        }));

    /// <summary>Stores one tensor in another dtype (e.g. "F64", "I8"), with a byte size matching that dtype.</summary>
    public static void RetypeTensor(TinyOptCheckpoint c, string name, string dtype, int elementBytes) =>
        RewriteWeights(c, entries => Replace(entries, name, e =>
            e with { Dtype = dtype, Data = new byte[e.Shape.Aggregate(1L, (n, d) => n * d) * elementBytes] }));

    public static void RewriteWeights(TinyOptCheckpoint c, Action<List<SafetensorsEntry>> edit)
    {
        var entries = c.Entries();
        edit(entries);
        SafetensorsWriter.Write(c.WeightsFile, entries);
    }

    public static void EditConfig(TinyOptCheckpoint c, Action<JsonObject> edit) =>
        OptConfigJson.Write(c.Directory, c.Spec, c.Dtype, edit);

    private static void Replace(List<SafetensorsEntry> entries, string name, Func<SafetensorsEntry, SafetensorsEntry> change)
    {
        int i = entries.FindIndex(e => e.Name == name);
        if (i < 0)
        {
            throw new ArgumentException($"no tensor {name} to change", nameof(name));
        }

        entries[i] = change(entries[i]);
    }
}
