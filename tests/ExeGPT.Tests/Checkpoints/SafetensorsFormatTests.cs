using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Checkpoints;

/// <summary>The test-side writer must produce what the format says, or every checkpoint test is moot.</summary>
[TestFixture]
public sealed class SafetensorsFormatTests
{
    [TestCase(1.0f, (ushort)0x3F80)]
    [TestCase(-2.0f, (ushort)0xC000)]
    [TestCase(1.00390625f, (ushort)0x3F80)] // 1 + 2^-8: exactly halfway, ties to the even mantissa
    [TestCase(1.01171875f, (ushort)0x3F82)] // 1 + 3*2^-8: halfway, rounds up to even
    [TestCase(1.0039064f, (ushort)0x3F81)]  // just above halfway rounds up
    public void BFloat16RoundsToNearestEven(float value, ushort bits) =>
        Assert.That(DtypeCodec.FloatToBFloat16Bits(value), Is.EqualTo(bits));

    [Test]
    public void HeaderIsPaddedJsonAndOffsetsAreContiguous()
    {
        using var dir = new TempDirectory("st");
        string path = Path.Combine(dir.Path, "t.safetensors");
        var a = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
        var b = new Tensor([5], [0.5f, -1, 2, 1e-3f, 7]);
        SafetensorsWriter.Write(path, [SafetensorsEntry.From("a", a, CheckpointDtype.F32), SafetensorsEntry.From("b", b, CheckpointDtype.BF16)]);

        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(headerLength % 8, Is.Zero);
        Assert.That(bytes.LongLength, Is.EqualTo(8 + headerLength + 6 * 4 + 5 * 2));

        var read = SafetensorsReader.ReadFile(path);
        Assert.That(read["a"].Dtype, Is.EqualTo("F32"));
        Assert.That(read["a"].Tensor.Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(read["a"].Tensor.Data, Is.EqualTo(a.Data));
        Assert.That(read["b"].Dtype, Is.EqualTo("BF16"));
        Assert.That(read["b"].Tensor.Data, Is.EqualTo(b.Data.Select(v => DtypeCodec.Round(v, CheckpointDtype.BF16)).ToArray()));
    }

    [TestCase(CheckpointDtype.F16)]
    [TestCase(CheckpointDtype.BF16)]
    public void CheckpointWeightsAreTheStoredValues(CheckpointDtype dtype)
    {
        using var checkpoint = TinyOptCheckpoint.Create(dtype: dtype, seed: 8);
        var stored = SafetensorsReader.ReadDirectory(checkpoint.Directory);
        Assert.That(stored.Keys, Is.EquivalentTo(checkpoint.Weights.Keys));
        foreach (var (name, tensor) in checkpoint.Weights)
        {
            Assert.That(stored[name].Dtype, Is.EqualTo(dtype.SafetensorsName()), name);
            Assert.That(stored[name].Tensor.Data, Is.EqualTo(tensor.Data), name);
        }
    }

    [Test]
    public void ShardedWriterIndexesEveryTensor()
    {
        using var checkpoint = TinyOptCheckpoint.Create(seed: 8, shards: 3);
        Assert.That(File.Exists(Path.Combine(checkpoint.Directory, ShardedSafetensorsWriter.ShardFileName(3, 3))), Is.True);
        Assert.That(File.Exists(checkpoint.WeightsFile), Is.False);
        var stored = SafetensorsReader.ReadDirectory(checkpoint.Directory);
        Assert.That(stored.Keys, Is.EquivalentTo(checkpoint.Weights.Keys));
    }

    [Test]
    public void ConfigJsonRoundTrips()
    {
        var spec = new OptSpec { PreLayerNorm = false, WordEmbedProjDim = 16, Activation = "gelu", TieWordEmbeddings = false };
        using var checkpoint = TinyOptCheckpoint.Create(spec, CheckpointDtype.BF16);
        Assert.That(OptConfigJson.Read(checkpoint.Directory), Is.EqualTo(spec));
    }
}
