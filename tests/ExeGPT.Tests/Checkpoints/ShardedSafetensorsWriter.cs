using System.Text.Json;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>
/// Hugging Face's sharded layout: model-0000K-of-0000N.safetensors files plus model.safetensors.index.json,
/// whose "weight_map" names the shard that holds each tensor.
/// </summary>
public static class ShardedSafetensorsWriter
{
    public const string IndexFileName = "model.safetensors.index.json";

    public static string ShardFileName(int index, int count) => $"model-{index:D5}-of-{count:D5}.safetensors";

    /// <summary>Splits the tensors into <paramref name="shards"/> contiguous runs; returns the shard file names.</summary>
    public static IReadOnlyList<string> Write(string dir, IReadOnlyList<SafetensorsEntry> entries, int shards)
    {
        if (shards < 1 || shards > entries.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(shards), $"{shards} shards for {entries.Count} tensors");
        }

        var files = new List<string>();
        var weightMap = new Dictionary<string, string>();
        int start = 0;
        for (int k = 0; k < shards; k++)
        {
            int end = entries.Count * (k + 1) / shards;
            string file = ShardFileName(k + 1, shards);
            var part = entries.Skip(start).Take(end - start).ToList();
            SafetensorsWriter.Write(Path.Combine(dir, file), part);
            foreach (var e in part)
            {
                weightMap[e.Name] = file;
            }

            files.Add(file);
            start = end;
        }

        var index = new
        {
            metadata = new { total_size = entries.Sum(e => (long)e.Data.Length) },
            weight_map = weightMap,
        };
        File.WriteAllText(Path.Combine(dir, IndexFileName), JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
        return files;
    }
}
