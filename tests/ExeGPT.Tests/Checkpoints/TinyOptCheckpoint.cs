using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>
/// A small random OPT checkpoint on disk (config.json + safetensors, optionally sharded) together with the
/// exact values it holds, so the reference runs on the same (F16/BF16-rounded) weights the engine loads.
/// Disposing deletes the directory.
/// </summary>
public sealed class TinyOptCheckpoint : IDisposable
{
    private readonly TempDirectory _dir;

    private TinyOptCheckpoint(TempDirectory dir, OptSpec spec, CheckpointDtype dtype, IReadOnlyDictionary<string, Tensor> weights)
    {
        _dir = dir;
        Spec = spec;
        Dtype = dtype;
        Weights = weights;
    }

    public string Directory => _dir.Path;
    public OptSpec Spec { get; }
    public CheckpointDtype Dtype { get; }

    /// <summary>The stored values, already rounded to <see cref="Dtype"/>.</summary>
    public IReadOnlyDictionary<string, Tensor> Weights { get; }

    /// <summary>The single-file weights path (only for unsharded checkpoints).</summary>
    public string WeightsFile => Path.Combine(Directory, "model.safetensors");

    public static TinyOptCheckpoint Create(OptSpec? spec = null, CheckpointDtype dtype = CheckpointDtype.F32, int seed = 1, int shards = 1)
    {
        spec ??= new OptSpec();
        var weights = RandomWeights(spec, seed, dtype);
        var dir = new TempDirectory("ckpt");
        var checkpoint = new TinyOptCheckpoint(dir, spec, dtype, weights);
        OptConfigJson.Write(dir.Path, spec, dtype);
        var entries = checkpoint.Entries();
        if (shards == 1)
        {
            SafetensorsWriter.Write(checkpoint.WeightsFile, entries);
        }
        else
        {
            ShardedSafetensorsWriter.Write(dir.Path, entries, shards);
        }

        return checkpoint;
    }

    /// <summary>The tensors in HF order, encoded in the checkpoint's dtype.</summary>
    public List<SafetensorsEntry> Entries() =>
        OptTensorNames.Expected(Spec).Select(t => SafetensorsEntry.From(t.Name, Weights[t.Name], Dtype)).ToList();

    public OptReference Reference() => new(Spec, Weights);

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Seeded weights scaled so activations stay O(1) through every layer: Linear weights uniform with
    /// variance 1/in, LayerNorm gains near 1, small biases, embeddings of unit scale. That keeps attention
    /// away from both uniform and one-hot, and logits a few units wide, so mistakes move them visibly.
    /// </summary>
    public static IReadOnlyDictionary<string, Tensor> RandomWeights(OptSpec spec, int seed, CheckpointDtype dtype)
    {
        var rng = new Random(seed);
        var weights = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in OptTensorNames.Expected(spec))
        {
            var (center, halfWidth) = InitRange(name, shape);
            var data = new float[shape.Aggregate(1, (n, d) => n * d)];
            for (int i = 0; i < data.Length; i++)
            {
                float v = (float)(center + halfWidth * (2 * rng.NextDouble() - 1));
                data[i] = DtypeCodec.Round(v, dtype);
            }

            weights[name] = new Tensor(shape, data);
        }

        return weights;
    }

    private static (double Center, double HalfWidth) InitRange(string name, int[] shape)
    {
        if (name.EndsWith("layer_norm.weight", StringComparison.Ordinal))
        {
            return (1.0, 0.2);
        }

        if (name.EndsWith(".bias", StringComparison.Ordinal))
        {
            return (0.0, 0.1);
        }

        if (name.Contains("embed_positions", StringComparison.Ordinal))
        {
            return (0.0, 0.5);
        }

        if (name.Contains("embed_tokens", StringComparison.Ordinal) || name.StartsWith("lm_head", StringComparison.Ordinal))
        {
            return (0.0, 1.0);
        }

        // Uniform(-a, a) has variance a^2/3; a = sqrt(3/in) keeps unit-variance inputs at unit variance.
        return (0.0, Math.Sqrt(3.0 / shape[1]));
    }
}
