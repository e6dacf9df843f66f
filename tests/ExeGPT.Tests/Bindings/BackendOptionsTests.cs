using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Bindings;

/// <summary>The backend's dtype, device description and availability as the safe layer exposes them, on the CPU
/// backend (every machine) and on CUDA where it is missing (the CI machine).</summary>
[TestFixture]
public sealed class BackendOptionsTests
{
    [Test]
    public void Dtype_defaults_to_the_backend_default()
    {
        Assert.That(new BackendOptions().Dtype, Is.Null, "no dtype asked for: the backend chooses");
        using var byDefault = Backend.Create(new BackendOptions { NumThreads = 1 });
        using var cpu = LoadedModel.CpuBackend();
        using var explicitF32 = Backend.Create(new BackendOptions { NumThreads = 1, Dtype = exg_dtype.EXG_DTYPE_F32 });
        Assert.Multiple(() =>
        {
            Assert.That(byDefault.Dtype, Is.EqualTo(exg_dtype.EXG_DTYPE_F32));
            Assert.That(cpu.Dtype, Is.EqualTo(exg_dtype.EXG_DTYPE_F32));
            Assert.That(explicitF32.Dtype, Is.EqualTo(exg_dtype.EXG_DTYPE_F32));
            Assert.That(byDefault.Kind, Is.EqualTo(exg_backend_kind.EXG_BACKEND_CPU));
            Assert.That(byDefault.Name, Is.EqualTo("cpu"));
        });
    }

    [TestCase(exg_dtype.EXG_DTYPE_BF16)]
    [TestCase(exg_dtype.EXG_DTYPE_F16)]
    public void The_cpu_backend_refuses_half_precision_storage(exg_dtype dtype)
    {
        ErrorAssert.Throws(() => Backend.Create(new BackendOptions { NumThreads = 1, Dtype = dtype }).Dispose(),
            exg_status.EXG_ERR_UNSUPPORTED, "f32");
    }

    [Test]
    public void Device_info_on_cpu_describes_the_host()
    {
        using var backend = LoadedModel.CpuBackend();
        DeviceInfo info = backend.DeviceInfo;
        TestContext.Out.WriteLine(info);
        Assert.Multiple(() =>
        {
            Assert.That(info.Name, Is.Not.Empty);
            Assert.That(info.Name.IndexOf('\0', StringComparison.Ordinal), Is.EqualTo(-1), "the name ends at its NUL");
            Assert.That(info.TotalMemoryBytes, Is.GreaterThan(0UL));
            Assert.That(info.FreeMemoryBytes, Is.LessThanOrEqualTo(info.TotalMemoryBytes));
            Assert.That(info.Multiprocessors, Is.GreaterThanOrEqualTo(1), "cores");
            Assert.That(info.ComputeCapability, Is.Zero, "no compute capability on CPU");
            Assert.That(info.PeakBandwidthGbps, Is.GreaterThanOrEqualTo(0));
        });
    }

    [Test]
    public void Device_info_of_a_disposed_backend_throws()
    {
        var backend = LoadedModel.CpuBackend();
        backend.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = backend.DeviceInfo);
    }

    [Test]
    public void Availability_and_its_reason_agree()
    {
        Assert.That(Backend.IsAvailable(exg_backend_kind.EXG_BACKEND_CPU), Is.True);
        Assert.That(Backend.UnavailableReason(exg_backend_kind.EXG_BACKEND_CPU), Is.Empty);
        bool cuda = Backend.IsAvailable(exg_backend_kind.EXG_BACKEND_CUDA);
        string reason = Backend.UnavailableReason(exg_backend_kind.EXG_BACKEND_CUDA);
        TestContext.Out.WriteLine($"cuda available: {cuda}; reason: \"{reason}\"");
        Assert.That(reason, cuda ? Is.Empty : Is.Not.Empty, "a reason exactly when CUDA is unavailable");
        Assert.That(Backend.UnavailableReason((exg_backend_kind)7), Does.Contain("unknown backend kind"));
    }

    [Test]
    public void Creating_an_unavailable_cuda_backend_fails_with_the_reason()
    {
        if (Backend.IsAvailable(exg_backend_kind.EXG_BACKEND_CUDA))
            Assert.Ignore("a CUDA backend is available here");
        string reason = Backend.UnavailableReason(exg_backend_kind.EXG_BACKEND_CUDA);
        var failure = ErrorAssert.Throws(() => Backend.Create(new BackendOptions { Kind = exg_backend_kind.EXG_BACKEND_CUDA }).Dispose(),
            exg_status.EXG_ERR_UNSUPPORTED);
        Assert.That(failure.Message, Does.Contain(reason));
    }
}
