using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;

namespace ExeGPT.Planning.Tests.Profiles;

/// <summary>Specs and a hand-written profile file the profile tests share (built here, not from presets).</summary>
internal static class ProfileFixtures
{
    /// <summary>Decoder-only, grouped-query: attnDim = 4·16 = 64, kvDim = 2·16 = 32.</summary>
    public static ModelSpec Tiny => new("tiny", ModelArchitecture.DecoderOnly, EncoderLayers: 0, DecoderLayers: 2,
        Hidden: 64, Heads: 4, KvHeads: 2, HeadDim: 16, FfnHidden: 256, GatedFfn: false, Vocab: 100, DtypeBytes: 2,
        MaxPositions: 128);

    /// <summary>Encoder-decoder twin of <see cref="Tiny"/> with multi-head attention: attnDim = kvDim = 64.</summary>
    public static ModelSpec TinyT5 => new("tiny-t5", ModelArchitecture.EncoderDecoder, EncoderLayers: 2, DecoderLayers: 2,
        Hidden: 64, Heads: 4, KvHeads: 4, HeadDim: 16, FfnHidden: 256, GatedFfn: false, Vocab: 100, DtypeBytes: 2,
        MaxPositions: 128);

    /// <summary>An OPT-1.3B-sized layer (hidden 2048, 32 heads, FFN 8192).</summary>
    public static ModelSpec Mid => new("mid", ModelArchitecture.DecoderOnly, 0, 24, 2048, 32, 32, 64, 8192, false,
        50272, 2, 2048);

    /// <summary>A LLaMA-like gated, grouped-query layer.</summary>
    public static ModelSpec Gated => new("gated", ModelArchitecture.DecoderOnly, 0, 32, 4096, 32, 8, 128, 11008, true,
        32000, 2, 4096, TiedEmbeddings: false);

    /// <summary>Round numbers for hand calculation: 1 TFLOP/s, 100 GB/s; links 10 GB/s + 5 µs (intra),
    /// 5 GB/s + 5 µs (inter), 20 GB/s + 10 µs (host).</summary>
    public static ClusterSpec Toy(int devicesPerNode = 4, int nodes = 1) => new("toy",
        new DeviceSpec("toy-device", 16L << 30, PeakFlops: 1e12, MemoryBandwidth: 1e11),
        nodes, devicesPerNode,
        IntraNode: new LinkSpec("toy-intra", 1e10, 5e-6),
        InterNode: new LinkSpec("toy-inter", 5e9, 5e-6),
        HostLink: new LinkSpec("toy-host", 2e10, 1e-5));

    /// <summary>A40-like: 149.7 TFLOP/s, 696 GB/s, PCIe between devices.</summary>
    public static ClusterSpec A40Like => new("a40-like",
        new DeviceSpec("A40-48GB", 48L << 30, 149.7e12, 696e9), 1, 8,
        new LinkSpec("PCIe4", 25e9, 5e-6), new LinkSpec("IB", 12.5e9 / 8, 5e-6), new LinkSpec("PCIe4-host", 25e9, 5e-6));

    /// <summary>A measured-style profile of <see cref="Tiny"/> with small grids whose interpolated values are
    /// easy to work out by hand. tp=2 values are those of tp=1 halved.</summary>
    public const string MeasuredJson = """
    {
      "format": "exegpt-profile",
      "version": 1,
      "kind": "measured",
      "model": { "name": "tiny", "architecture": "decoder-only", "hidden": 64, "heads": 4, "kv_heads": 2,
                 "head_dim": 16, "ffn_hidden": 256, "gated_ffn": false, "dtype_bytes": 2 },
      "device": "cpu (2 cores)",
      "backend": "cpu",
      "engine_version": "test-1",
      "created": "2024-04-12T09:30:00Z",
      "notes": "hand-made",
      "layers": [
        { "tp": 1,
          "encoder": {
            "attention": { "batch": [1, 4], "seq_len": [16, 64, 256],
                           "time_s": [[1, 2, 4], [3, 6, 12]], "spread_s": [[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]] },
            "rest": { "tokens": [1, 1000], "time_s": [0.5, 10.5] } },
          "decoder": {
            "attention": { "batch": [1, 4], "context": [16, 256], "time_s": [[1, 3], [2, 8]] },
            "rest": { "tokens": [1, 100], "time_s": [1, 2], "flops": [10, 1000], "memory_bytes": [5, 50] } } },
        { "tp": 2,
          "encoder": {
            "attention": { "batch": [1, 4], "seq_len": [16, 64, 256], "time_s": [[0.5, 1, 2], [1.5, 3, 6]] },
            "rest": { "tokens": [1, 1000], "time_s": [0.25, 5.25] } },
          "decoder": {
            "attention": { "batch": [1, 4], "context": [16, 256], "time_s": [[0.5, 1.5], [1, 4]] },
            "rest": { "tokens": [1, 100], "time_s": [0.5, 1] } } }
      ],
      "all_reduce": [ { "tp": 2, "bytes": [1, 1025], "time_s": [0.001, 0.002] } ],
      "send": {
        "intra_node": { "bytes": [1, 1001], "time_s": [0, 1] },
        "inter_node": { "bytes": [1, 1001], "time_s": [0, 2] },
        "host_staged": { "bytes": [1, 1001], "time_s": [0, 4] }
      }
    }
    """;
}
