using ExeGPT.Cli;
using ExeGPT.Core;

namespace ExeGPT.Tests.Cli;

/// <summary><c>--backend cpu|cuda</c> and <c>--dtype bf16|f16</c> on generate, profile and run: parsed alike by every
/// command; asking for CUDA where it is unavailable is one clear line quoting the engine's reason.</summary>
[TestFixture]
[NonParallelizable] // CliRunner redirects the process's console
public sealed class BackendChoiceTests
{
    private static bool CudaAvailable => Backend.IsAvailable(exg_backend_kind.EXG_BACKEND_CUDA);

    private static string CudaReason => Backend.UnavailableReason(exg_backend_kind.EXG_BACKEND_CUDA);

    [TestCase("cpu", exg_backend_kind.EXG_BACKEND_CPU)]
    [TestCase(" CPU ", exg_backend_kind.EXG_BACKEND_CPU)]
    public void Cpu_is_parsed_with_the_default_dtype(string text, exg_backend_kind kind)
    {
        Assert.That(BackendChoice.Parse(text, null), Is.EqualTo(new BackendChoice(kind, null)));
    }

    [Test]
    public void Cuda_dtypes_are_parsed_where_cuda_is_available()
    {
        if (!CudaAvailable)
            Assert.Ignore($"no CUDA backend here: {CudaReason}");
        Assert.Multiple(() =>
        {
            Assert.That(BackendChoice.Parse("cuda", null), Is.EqualTo(new BackendChoice(exg_backend_kind.EXG_BACKEND_CUDA, null)));
            Assert.That(BackendChoice.Parse("cuda", "bf16").Dtype, Is.EqualTo(exg_dtype.EXG_DTYPE_BF16));
            Assert.That(BackendChoice.Parse("cuda", "F16").Dtype, Is.EqualTo(exg_dtype.EXG_DTYPE_F16));
            Assert.That(() => BackendChoice.Parse("cuda", "f32"), Throws.ArgumentException.With.Message.Contain("'f32' is not a storage dtype of the cuda backend (bf16, f16)"));
        });
    }

    [Test]
    public void Bad_choices_name_the_option()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => BackendChoice.Parse("tpu", null), Throws.ArgumentException.With.Message.Contain("--backend: 'tpu' is not a backend (cpu, cuda)"));
            Assert.That(() => BackendChoice.Parse("cpu", "bf16"), Throws.InstanceOf<SpecException>()
                .With.Message.Contain("--dtype bf16: the cpu backend stores f32 only"));
        });
    }

    [Test]
    public void Unavailable_cuda_is_a_spec_error_quoting_the_reason()
    {
        if (CudaAvailable)
            Assert.Ignore("a CUDA backend is available here");
        Assert.That(CudaReason, Is.Not.Empty);
        Assert.That(() => BackendChoice.Parse("cuda", "bf16"), Throws.InstanceOf<SpecException>()
            .With.Message.EqualTo($"--backend cuda: {CudaReason}"));
    }

    private static IEnumerable<TestCaseData> Commands()
    {
        yield return new TestCaseData((object)new[] { "generate", "--model", "tiny", "--prompt-tokens", "1,2", "--greedy" }).SetArgDisplayNames("generate");
        yield return new TestCaseData((object)new[] { "profile", "--model", "tiny", "--out", "/tmp/never.json", "--no-cache" }).SetArgDisplayNames("profile");
        yield return new TestCaseData((object)new[] { "run", "--model", "tiny", "--cluster", "h100x1" }).SetArgDisplayNames("run");
    }

    [TestCaseSource(nameof(Commands))]
    public void Every_engine_command_refuses_unavailable_cuda_in_one_line(string[] command)
    {
        if (CudaAvailable)
            Assert.Ignore("a CUDA backend is available here");
        CliOutcome outcome = CliRunner.Run([.. command, "--backend", "cuda", "--dtype", "f16"]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), "one line");
        Assert.That(outcome.Error, Is.EqualTo($"error: --backend cuda: {CudaReason}\n"));
        Assert.That(File.Exists("/tmp/never.json"), Is.False);
    }

    [TestCaseSource(nameof(Commands))]
    public void Every_engine_command_refuses_a_dtype_on_cpu(string[] command)
    {
        CliOutcome outcome = CliRunner.Run([.. command, "--dtype", "bf16"]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("--dtype bf16: the cpu backend stores f32 only; --dtype applies to --backend cuda"));
    }

    [Test]
    public void Run_on_cpu_refuses_a_gpu_cluster_and_says_how_to_use_it()
    {
        CliOutcome outcome = CliRunner.Run(["run", "--model", "tiny", "--cluster", "h100x2", "--task", "S"]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("'h100x2' is a GPU cluster: add --backend cuda"));
    }
}
