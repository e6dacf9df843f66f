using ExeGPT.Core;

namespace ExeGPT.Simulator;

/// <summary>Checks a schedule's variables against the model and cluster before any timing.</summary>
internal static class Validation
{
    /// <summary>Devices the schedule uses; throws <see cref="SpecException"/> on a malformed schedule.</summary>
    public static int Check(SimulationContext ctx, Schedule s)
    {
        int devices = s.Devices == 0 ? ctx.Cluster.TotalDevices : s.Devices;
        if (devices < 1 || devices > ctx.Cluster.TotalDevices)
            throw new SpecException($"schedule uses {s.Devices} devices; cluster '{ctx.Cluster.Name}' has {ctx.Cluster.TotalDevices}");
        if (s.EncoderBatch < 1)
            throw new SpecException($"{PolicyNames.Name(s.Policy)}: the batch size must be at least 1, got {s.EncoderBatch}");
        if (s.Policy == Policy.Rra && s.DecodeIterations < 1)
            throw new SpecException($"rra: N_D (decode iterations per encoding) must be at least 1, got {s.DecodeIterations}");
        if (s.Policy is Policy.Rra or Policy.WaaC or Policy.WaaM)
        {
            ctx.Model.RequireTensorParallel(s.TpDegree);
            if (s.TpDegree > ctx.Cluster.DevicesPerNode)
                throw new SpecException(
                    $"tensor-parallel degree {s.TpDegree} exceeds the {ctx.Cluster.DevicesPerNode} devices of a node of '{ctx.Cluster.Name}'");
            if (s.TpGroups < 0 || (s.TpDegree == 1 && s.TpGroups > 0))
                throw new SpecException($"tensor-parallel groups must be >= 0 (and 0 when the degree is 1), got {s.TpGroups}");
            if (s.MicroBatches < 0)
                throw new SpecException($"decoder micro-batches must be >= 0 (0 = one per decoder stage), got {s.MicroBatches}");
        }
        if (s.Policy is Policy.WaaC or Policy.WaaM && devices < 2)
            throw new SpecException("WAA needs at least two devices: one to encode and one to decode");
        return devices;
    }
}
