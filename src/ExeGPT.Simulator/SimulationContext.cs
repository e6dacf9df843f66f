using ExeGPT.Core;
using ExeGPT.Core.Clusters;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Core.Workloads;

namespace ExeGPT.Simulator;

/// <summary>Knobs of the simulator that are modelling choices, not schedule variables.</summary>
/// <param name="EventQueries">Event mode: queries measured after warm-up.</param>
/// <param name="Seed">Event mode: seed of the sampled workload.</param>
/// <param name="WaaAdjustmentBuffer">WAA: the paper's "buffer time for dynamic adjustments", as a fraction of
/// the encoder period added to each query's latency (0 = none).</param>
/// <param name="RraBatch">RRA decode-batch model of the expected-value mode.</param>
public sealed record SimulationOptions(int EventQueries = 4000, ulong Seed = 1, double WaaAdjustmentBuffer = 0.0,
    RraBatchModel RraBatch = RraBatchModel.LittlesLaw);

/// <summary>Everything a simulation needs besides the schedule: the model, the cluster, the workload, the
/// profile tables, and caches of workload statistics shared by every schedule evaluated against them.
/// Not thread-safe (the caches are plain dictionaries); use one per thread.</summary>
public sealed class SimulationContext
{
    private readonly Dictionary<int, RraPhaseShape> _rraShapes = [];

    /// <summary>Validates the parts against each other.</summary>
    public SimulationContext(ModelSpec model, ClusterSpec cluster, WorkloadSpec workload, ILayerProfile profile,
        SimulationOptions? options = null)
    {
        model.Validate();
        cluster.Validate();
        if (workload.MaxTotalLength > model.MaxPositions)
            throw new SpecException(
                $"workload '{workload.Name}' needs up to {workload.Input.Max} input + {workload.Output.Max} output tokens, " +
                $"more than model '{model.Name}''s {model.MaxPositions} positions");
        Model = model;
        Cluster = cluster;
        Workload = workload;
        Profile = profile;
        Options = options ?? new SimulationOptions();
        Stats = new WorkloadStats(model, workload);
    }

    /// <summary>The model.</summary>
    public ModelSpec Model { get; }

    /// <summary>The cluster.</summary>
    public ClusterSpec Cluster { get; }

    /// <summary>The workload.</summary>
    public WorkloadSpec Workload { get; }

    /// <summary>Per-layer times.</summary>
    public ILayerProfile Profile { get; }

    /// <summary>Modelling options.</summary>
    public SimulationOptions Options { get; }

    /// <summary>Derived workload statistics.</summary>
    public WorkloadStats Stats { get; }

    /// <summary>Bytes of one KV-cache slot (longest input + output, no paging) across every decoder layer.</summary>
    public double KvSlotBytes => MemoryModel.SlotBytesPerLayer(Model, Stats.MaxSlotLength, Stats.InputMax) * Model.DecoderLayers;

    /// <summary>The steady-state RRA decode phase for one N_D (cached: it depends on the workload only).</summary>
    internal RraPhaseShape RraShape(int decodeIterations)
    {
        if (!_rraShapes.TryGetValue(decodeIterations, out RraPhaseShape? shape))
        {
            shape = RraPhaseShape.Build(Stats, decodeIterations);
            _rraShapes[decodeIterations] = shape;
        }
        return shape;
    }
}
