using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Bindings;

/// <summary>Communicator groups by backend kind, and NCCL's entry points failing cleanly where there is no NCCL, no
/// CUDA backend, or a bad argument.</summary>
[TestFixture]
public sealed class CommGroupTests
{
    [Test]
    public void A_group_of_cpu_backends_is_a_host_group()
    {
        Backend[] backends = [LoadedModel.CpuBackend(), LoadedModel.CpuBackend()];
        try
        {
            Comm[] comms = Comm.CreateGroup(backends, timeoutMs: 20_000);
            try
            {
                Assert.That(comms.Select(c => (c.Rank, c.Size, c.IsDeviceCommunicator)), Is.EqualTo(new[] { (0, 2, false), (1, 2, false) }));
                var data = new[] { new[] { 1f, 2f }, new[] { 10f, 20f } };
                RankRunner.Run(comms, rank =>
                {
                    comms[rank].AllReduceSum(data[rank]);
                    return rank;
                });
                Assert.That(data, Has.All.EqualTo(new[] { 11f, 22f }));
            }
            finally
            {
                foreach (Comm comm in comms)
                    comm.Dispose();
            }
        }
        finally
        {
            foreach (Backend backend in backends)
                backend.Dispose();
        }
    }

    [Test]
    public void A_group_needs_backends()
    {
        Assert.Throws<ArgumentException>(() => Comm.CreateGroup([]));
    }

    [Test]
    public void The_nccl_unique_id_fails_cleanly_without_nccl()
    {
        byte[] id;
        try
        {
            id = Comm.NcclUniqueId();
        }
        catch (ExgException e)
        {
            TestContext.Out.WriteLine($"{e.Status}: {e.Message}");
            Assert.That(e.Status, Is.EqualTo(exg_status.EXG_ERR_UNSUPPORTED), e.Message);
            Assert.That(e.Message, Does.Contain("nccl").IgnoreCase.Or.Contain("cuda").IgnoreCase,
                "the message names what is missing (NCCL, or the CUDA library that loads it)");
            return;
        }
        // A machine with NCCL: the id is NCCL's 128 bytes, not left blank.
        Assert.That(id, Has.Length.EqualTo(EXG_NCCL_UNIQUE_ID_BYTES));
        Assert.That(id.Any(b => b != 0), Is.True);
    }

    [Test]
    public void An_nccl_communicator_needs_a_cuda_backend()
    {
        using var backend = LoadedModel.CpuBackend();
        ErrorAssert.ThrowsOneOf(() => Comm.CreateNccl(backend, new byte[EXG_NCCL_UNIQUE_ID_BYTES], 1, 0).Dispose(),
            [exg_status.EXG_ERR_INVALID_ARGUMENT, exg_status.EXG_ERR_UNSUPPORTED], "cuda");
    }

    [Test]
    public void Nccl_arguments_are_checked_before_the_library_is_called()
    {
        using var backend = LoadedModel.CpuBackend();
        Assert.Multiple(() =>
        {
            Assert.That(() => Comm.CreateNccl(backend, new byte[16], 1, 0), Throws.ArgumentException.With.Message.Contain("128"));
            Assert.That(() => Comm.CreateNccl(backend, new byte[EXG_NCCL_UNIQUE_ID_BYTES], 2, 2), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => Comm.CreateNccl(backend, new byte[EXG_NCCL_UNIQUE_ID_BYTES], 0, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => Comm.CreateNccl(null!, new byte[EXG_NCCL_UNIQUE_ID_BYTES], 1, 0), Throws.ArgumentNullException);
        });
    }
}
