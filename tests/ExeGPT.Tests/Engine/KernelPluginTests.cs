using System.Runtime.InteropServices;
using ExeGPT.Tests.Checkpoints;
using ExeGPT.Tests.Reference;
using ExeGPT.Tests.Runtime;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Engine;

/// <summary>
/// The kernel plug-in ABI through the safe layer, with the example plug-in (a naive attention, built beside
/// libexegpt): models on a backend that loaded it match the independent reference and the engine's own kernels,
/// greedy generation is unchanged, and the plug-in's call counter proves the engine ran its attention.
/// </summary>
[TestFixture]
public sealed unsafe class KernelPluginTests
{
    private const string ExampleName = "example-simple-attention";

    private TinyOptCheckpoint _checkpoint = null!;
    private OptReference _reference = null!;
    private ExamplePlugin _example = null!;

    [OneTimeSetUp]
    public void CreateCheckpoint()
    {
        _checkpoint = TinyOptCheckpoint.Create(new OptSpec { NumLayers = 3 }, seed: 31);
        _reference = _checkpoint.Reference();
        _example = ExamplePlugin.Open();
    }

    [OneTimeTearDown]
    public void CloseAll()
    {
        _example.Dispose();
        _checkpoint.Dispose();
    }

    [Test]
    public void TheBackendReportsThePlugin()
    {
        using var plain = LoadedModel.CpuBackend();
        Assert.That(plain.KernelLibraryName, Is.Null);
        Assert.That(plain.KernelOps, Is.EqualTo(exg_kernel_op.EXG_KERNEL_OP_NONE));

        using var plugged = PluggedBackend();
        Assert.That(plugged.KernelLibraryName, Is.EqualTo(ExampleName));
        Assert.That(plugged.KernelOps, Is.EqualTo(exg_kernel_op.EXG_KERNEL_OP_ATTENTION));
    }

    [Test]
    public void LogitsMatchTheReferenceAndTheEngineAndEveryLayerCallsThePlugin()
    {
        int vocab = _checkpoint.Spec.VocabSize, layers = _checkpoint.Spec.NumLayers;
        int[][] prompts = [Run.Tokens(6, vocab, 71), Run.Tokens(2, vocab, 72)];
        int[][] forced = [Run.Tokens(3, vocab, 73), Run.Tokens(3, vocab, 74)];  // teacher-forced decode tokens

        using var plain = LoadedModel.CpuBackend();
        var engine = Steps(plain, prompts, forced);
        using var plugged = PluggedBackend();
        ulong before = _example.AttentionCalls;
        var plugin = Steps(plugged, prompts, forced);
        Assert.That(_example.AttentionCalls - before, Is.EqualTo((ulong)((1 + forced[0].Length) * layers)),
            "one plug-in attention call per layer and step");

        for (int step = 0; step < plugin.Count; step++)
        {
            for (int s = 0; s < prompts.Length; s++)
            {
                var sequence = prompts[s].Concat(forced[s].Take(step)).ToArray();
                var row = Run.Row(plugin[step], s, vocab);
                LogitAssert.Close(row, _reference.LastLogits(sequence), LogitAssert.ReferenceTolerance, $"step {step}, sequence {s} vs reference");
                LogitAssert.Close(row, Run.Row(engine[step], s, vocab), LogitAssert.ReorderTolerance, $"step {step}, sequence {s} vs engine");
            }
        }
    }

    [Test]
    public void GreedyGenerationIsTheSameWithAndWithoutThePlugin()
    {
        int vocab = _checkpoint.Spec.VocabSize;
        int[][] prompts = [Run.Tokens(5, vocab, 81), Run.Tokens(9, vocab, 82), Run.Tokens(1, vocab, 83)];
        const int newTokens = 8;
        using var plain = LoadedModel.CpuBackend();
        using var plugged = PluggedBackend();
        ulong before = _example.AttentionCalls;
        var withPlugin = Greedy(plugged, prompts, newTokens);
        Assert.That(_example.AttentionCalls, Is.GreaterThan(before));
        var without = Greedy(plain, prompts, newTokens);
        for (int s = 0; s < prompts.Length; s++)
        {
            var expected = GreedyReference.Generate(_reference, prompts[s], newTokens);
            Assert.That(withPlugin[s], Is.EqualTo(without[s]), $"prompt {s}: with vs without the plug-in");
            GenerationAssert.Matches(withPlugin[s], null, expected, $"prompt {s} with the plug-in");
        }
    }

    [Test]
    public void LoadErrorsNameTheFile()
    {
        using var backend = LoadedModel.CpuBackend();
        string missing = Path.Combine(Path.GetTempPath(), $"exegpt-no-such-plugin-{Guid.NewGuid():N}.so");
        ErrorAssert.Throws(() => backend.LoadKernelLibrary(missing), exg_status.EXG_ERR_IO, missing);
        // libexegpt itself is a shared library without exg_kernels_get.
        string engine = NativeLibraryLoader.LoadedPath!;
        var noSymbol = ErrorAssert.Throws(() => backend.LoadKernelLibrary(engine), exg_status.EXG_ERR_FORMAT, engine);
        Assert.That(noSymbol.Message, Does.Contain("exg_kernels_get"));
        Assert.That(backend.KernelLibraryName, Is.Null, "a failed load leaves the backend as it was");
        Assert.Throws<ArgumentNullException>(() => backend.LoadKernelLibrary(null!));

        backend.LoadKernelLibrary(_example.Path);
        ErrorAssert.Throws(() => backend.LoadKernelLibrary(_example.Path), exg_status.EXG_ERR_INVALID_ARGUMENT, ExampleName);
        Assert.That(backend.KernelLibraryName, Is.EqualTo(ExampleName));
    }

    [Test]
    public void ModelsOutliveTheBackendThatLoadedThePlugin()
    {
        var backend = PluggedBackend();
        using var model = CreateModel(backend);
        backend.Dispose();
        using var cache = new KvCache(model, 1, 16);
        ulong before = _example.AttentionCalls;
        var logits = Run.Prefill(model, cache, cache.AllocSlot(), [4, 8, 15]);
        Assert.That(_example.AttentionCalls - before, Is.EqualTo((ulong)_checkpoint.Spec.NumLayers));
        LogitAssert.Close(logits, _reference.LastLogits([4, 8, 15]), LogitAssert.ReferenceTolerance, "after the backend was disposed");
    }

    private Backend PluggedBackend()
    {
        var backend = LoadedModel.CpuBackend();
        try
        {
            backend.LoadKernelLibrary(_example.Path);
            return backend;
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    private Model CreateModel(Backend backend) => Model.Create(backend,
        new ModelOptions { Config = ModelConfigs.FromCheckpoint(_checkpoint.Directory), CheckpointDir = _checkpoint.Directory });

    /// <summary>A ragged prefill of the prompts, then one decode step per forced token; every step's logits.</summary>
    private List<float[]> Steps(Backend backend, int[][] prompts, int[][] forced)
    {
        using var model = CreateModel(backend);
        using var cache = new KvCache(model, prompts.Length, 32);
        int[] slots = [.. prompts.Select(_ => cache.AllocSlot())];
        var steps = new List<float[]> { Run.Prefill(model, cache, slots, prompts) };
        for (int k = 0; k < forced[0].Length; k++)
            steps.Add(Run.Decode(model, cache, slots, [.. forced.Select(f => f[k])]));
        return steps;
    }

    /// <summary>Greedy generation the way the runtime does it: a batched prefill, then batched decode steps, the
    /// library's sampler picking each token.</summary>
    private int[][] Greedy(Backend backend, int[][] prompts, int newTokens)
    {
        using var model = CreateModel(backend);
        using var cache = new KvCache(model, prompts.Length, 32);
        int vocab = model.Config.vocab_size;
        int[] slots = [.. prompts.Select(_ => cache.AllocSlot())];
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        var states = new ulong[prompts.Length];
        var next = new int[prompts.Length];
        var logits = Run.Prefill(model, cache, slots, prompts);
        for (int k = 0; k < newTokens; k++)
        {
            Sampler.Sample(logits, prompts.Length, vocab, new SamplingOptions(Greedy: true), states, next);
            for (int s = 0; s < prompts.Length; s++)
                generated[s].Add(next[s]);
            if (k + 1 < newTokens)
                logits = Run.Decode(model, cache, slots, next);
        }
        return [.. generated.Select(g => g.ToArray())];
    }
}

/// <summary>The example plug-in beside libexegpt, opened a second time (the same handle the engine's dlopen gets)
/// to read its call counter.</summary>
internal sealed unsafe class ExamplePlugin : IDisposable
{
    public const string FileName = "libexegpt-example-kernels.so";

    private readonly nint _handle;
    private readonly delegate* unmanaged<ulong> _calls;

    private ExamplePlugin(string path, nint handle)
    {
        Path = path;
        _handle = handle;
        _calls = (delegate* unmanaged<ulong>)NativeLibrary.GetExport(handle, "exg_example_attention_calls");
    }

    /// <summary>The plug-in's file, for LoadKernelLibrary and --kernel-lib.</summary>
    public string Path { get; }

    /// <summary>How many times an engine in this process has called the example's attention.</summary>
    public ulong AttentionCalls => _calls();

    public static ExamplePlugin Open()
    {
        NativeLibraryLoader.Initialize();
        string path = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(NativeLibraryLoader.LoadedPath)!, FileName);
        if (!File.Exists(path))
            Assert.Fail($"{FileName} is not beside libexegpt ({path}); the native build puts it there");
        return new ExamplePlugin(path, NativeLibrary.Load(path));
    }

    public void Dispose() => NativeLibrary.Free(_handle);
}
