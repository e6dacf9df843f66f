namespace ExeGPT.Tests.Gpu;

/// <summary>
/// NCCL on one GPU: a group of one rank goes through the library's loading, unique id, communicator set-up on a
/// thread of its own and tear-down, which the TP tests (two GPUs or more) build on. Skipped, with the reason, where
/// there is no CUDA backend or no NCCL library.
/// </summary>
[TestFixture]
[Category("Gpu")]
public sealed class GpuNcclTests
{
    [OneTimeSetUp]
    public void RequireNccl()
    {
        Cuda.RequireBackend();
        try
        {
            _ = Comm.NcclUniqueId();
        }
        catch (ExgException e) when (e.Status == exg_status.EXG_ERR_UNSUPPORTED)
        {
            Assert.Ignore($"no NCCL on this machine: {e.Message}");
        }
    }

    [Test]
    public void A_group_of_one_cuda_backend_is_an_nccl_group()
    {
        using Backend backend = Cuda.Create(exg_dtype.EXG_DTYPE_BF16);
        Comm[] comms = Comm.CreateGroup([backend], timeoutMs: 20_000);
        using Comm comm = comms.Single();
        Assert.That((comm.Rank, comm.Size, comm.IsDeviceCommunicator), Is.EqualTo((0, 1, true)));
        Assert.Throws<InvalidOperationException>(() => comm.AllReduceSum(new float[4]), "host data on a device communicator");
    }
}
