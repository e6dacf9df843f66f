namespace ExeGPT.Tests.Checkpoints;

/// <summary>Element types a test checkpoint can be stored in.</summary>
public enum CheckpointDtype
{
    F32,
    F16,
    BF16,
}

/// <summary>Rounding to and encoding of the storage types, so the reference sees exactly the stored values.</summary>
public static class DtypeCodec
{
    public static string SafetensorsName(this CheckpointDtype dtype) => dtype switch
    {
        CheckpointDtype.F32 => "F32",
        CheckpointDtype.F16 => "F16",
        CheckpointDtype.BF16 => "BF16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>HF config.json torch_dtype spelling.</summary>
    public static string TorchName(this CheckpointDtype dtype) => dtype switch
    {
        CheckpointDtype.F32 => "float32",
        CheckpointDtype.F16 => "float16",
        CheckpointDtype.BF16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static int ElementBytes(this CheckpointDtype dtype) => dtype == CheckpointDtype.F32 ? 4 : 2;

    /// <summary>The float the stored value decodes to.</summary>
    public static float Round(float value, CheckpointDtype dtype) => dtype switch
    {
        CheckpointDtype.F32 => value,
        CheckpointDtype.F16 => (float)(Half)value,
        CheckpointDtype.BF16 => BFloat16BitsToFloat(FloatToBFloat16Bits(value)),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Round-to-nearest-even on the upper 16 bits of the IEEE single, as torch does.</summary>
    public static ushort FloatToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040); // keep it a (quiet) NaN whatever the low bits were
        }

        uint lsb = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFFu + lsb) >> 16);
    }

    public static float BFloat16BitsToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Little-endian bytes of the values in the storage type (values are rounded on the way).</summary>
    public static byte[] Encode(ReadOnlySpan<float> values, CheckpointDtype dtype)
    {
        var bytes = new byte[values.Length * dtype.ElementBytes()];
        var span = bytes.AsSpan();
        for (int i = 0; i < values.Length; i++)
        {
            switch (dtype)
            {
                case CheckpointDtype.F32:
                    System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(span[(4 * i)..], values[i]);
                    break;
                case CheckpointDtype.F16:
                    System.Buffers.Binary.BinaryPrimitives.WriteHalfLittleEndian(span[(2 * i)..], (Half)values[i]);
                    break;
                case CheckpointDtype.BF16:
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(span[(2 * i)..], FloatToBFloat16Bits(values[i]));
                    break;
            }
        }

        return bytes;
    }

    public static float[] Decode(ReadOnlySpan<byte> bytes, CheckpointDtype dtype)
    {
        int size = dtype.ElementBytes();
        var values = new float[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            var b = bytes[(size * i)..];
            values[i] = dtype switch
            {
                CheckpointDtype.F32 => System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(b),
                CheckpointDtype.F16 => (float)System.Buffers.Binary.BinaryPrimitives.ReadHalfLittleEndian(b),
                _ => BFloat16BitsToFloat(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(b)),
            };
        }

        return values;
    }

    public static CheckpointDtype Parse(string safetensorsName) => safetensorsName switch
    {
        "F32" => CheckpointDtype.F32,
        "F16" => CheckpointDtype.F16,
        "BF16" => CheckpointDtype.BF16,
        _ => throw new NotSupportedException($"test reader does not decode dtype {safetensorsName}"),
    };
}
