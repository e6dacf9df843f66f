namespace ExeGPT.Tests.Support;

/// <summary>A CPU backend and one model on it, disposed together (model first).</summary>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(Backend backend, Model model)
    {
        Backend = backend;
        Model = model;
    }

    public Backend Backend { get; }
    public Model Model { get; }
    public exg_model_config Config => Model.Config;

    /// <summary>One thread keeps runs deterministic and leaves the other core to the test host.</summary>
    public static Backend CpuBackend() => Backend.CreateCpu(numThreads: 1);

    public static LoadedModel FromCheckpoint(string dir) =>
        Create(new ModelOptions { Config = ModelConfigs.FromCheckpoint(dir), CheckpointDir = dir });

    public static LoadedModel FromPreset(string preset, ulong seed) =>
        Create(new ModelOptions { Config = ModelConfigs.Preset(preset), Seed = seed });

    private static LoadedModel Create(ModelOptions options)
    {
        var backend = CpuBackend();
        try
        {
            return new LoadedModel(backend, Model.Create(backend, options));
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    public KvCache NewCache(int maxSlots = 4, int? maxSeqLen = null) =>
        new(Model, maxSlots, maxSeqLen ?? Config.max_positions);

    public void Dispose()
    {
        Model.Dispose();
        Backend.Dispose();
    }
}
