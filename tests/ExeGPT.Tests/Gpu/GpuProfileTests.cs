using ExeGPT.Core;
using ExeGPT.Core.Profiles;
using ExeGPT.Profiler;
using ExeGPT.Tests.Checkpoints;

namespace ExeGPT.Tests.Gpu;

/// <summary>
/// The XProfiler on CUDA device 0 (one rank, TP 1): steps keep their logits on the device and sample there, the model
/// is planned at the storage dtype's 2 bytes, and the device line and roofline come from the backend's description.
/// Structure and signs only. Skipped, with the engine's reason, where there is no CUDA backend.
/// </summary>
[TestFixture]
[Category("Gpu")]
public sealed class GpuProfileTests
{
    private static readonly ProfileGrid Grid = new([1, 2], [8, 16], Repeats: 1);

    [OneTimeSetUp]
    public void RequireCuda() => Cuda.RequireBackend();

    [Test]
    public void A_cuda_profile_is_measured_at_the_storage_dtype()
    {
        exg_model_config config;
        using (TinyOptCheckpoint checkpoint = Cuda.Checkpoint(seed: 51))
            config = ModelConfigs.FromCheckpoint(checkpoint.Directory);
        DeviceInfo device;
        using (Backend backend = Cuda.Create(exg_dtype.EXG_DTYPE_BF16))
            device = backend.DeviceInfo;

        ProfileTables profile = XProfiler.Profile(new ProfileRequest(config, "gpu-shape", Grid,
            Backend: exg_backend_kind.EXG_BACKEND_CUDA, Dtype: exg_dtype.EXG_DTYPE_BF16));

        Assert.Multiple(() =>
        {
            Assert.That(profile.Metadata.Kind, Is.EqualTo(ProfileKind.Measured));
            Assert.That(profile.Metadata.Backend, Is.EqualTo("cuda"));
            Assert.That(profile.Metadata.Device, Does.Contain(device.Name).And.Contain("bf16"));
            Assert.That(profile.AllReduceTables, Is.Empty, "TP 1 only");
        });
        TensorParallelTables t = profile.Layers.Single();
        foreach (double time in t.EncoderAttention.Times.Concat(t.DecoderAttention.Times).Concat(t.EncoderRest.Times).Concat(t.DecoderRest.Times))
            Assert.That(time, Is.GreaterThan(0));

        // Planned at 2 bytes per element, and refused for the F32 model of the same shape.
        profile.RequireMatches(XProfiler.ModelSpecOf(config, "gpu-shape", dtypeBytes: 2));
        Assert.That(() => profile.RequireMatches(XProfiler.ModelSpecOf(config, "gpu-shape", dtypeBytes: 4)),
            Throws.InstanceOf<SpecException>().With.Message.Contain("dtype_bytes is 2 in the profile but 4"));

        // The hand-off moves BF16 KV: keys and values of hidden_size features at 2 bytes, per token and layer.
        double kvBytesPerToken = 2 * config.hidden_size * 2;
        Assert.That(profile.SendHostStaged.Axis.First, Is.EqualTo(1 * 8 * 1 * kvBytesPerToken), "1 slot of the shortest length, one layer");
        Assert.That(profile.SendHostStaged.Axis.Last, Is.EqualTo(2 * 16 * config.num_layers * kvBytesPerToken), "every layer");
        Assert.That(profile.SendHostStaged.Times, Is.All.GreaterThan(0));

        bool peakKnown = GpuPeaks.DenseBf16Flops(device.ComputeCapability) > 0 && device.PeakBandwidthGbps > 0;
        Assert.That(profile.Roofline, peakKnown ? Is.Not.Null : Is.Null,
            $"{device.Name}, sm_{device.ComputeCapability}, {device.PeakBandwidthGbps:0} GB/s");
    }
}
