namespace ExeGPT.Simulator;

/// <summary>One pipeline stage as the simulator times it: devices [FirstDevice, FirstDevice + Tp) holding
/// layers [LayerBegin, LayerEnd).</summary>
public sealed record StagePlan(int FirstDevice, int Tp, int LayerBegin, int LayerEnd)
{
    /// <summary>Layers in the stage.</summary>
    public int Layers => LayerEnd - LayerBegin;
}

/// <summary>Where a schedule puts the model: the stages the simulator times, which XRunner builds as they are so
/// that predicted and measured describe the same execution. RRA and the baselines have one pipeline
/// (<see cref="Stages"/>) that encodes and decodes; WAA has its encoder pipeline apart
/// (<see cref="EncoderStages"/>, a second copy of the model's prefill layers) and <see cref="Stages"/> decode.</summary>
public sealed record ExecutionLayout(Schedule Schedule, IReadOnlyList<StagePlan> Stages, IReadOnlyList<StagePlan> EncoderStages)
{
    /// <summary>Devices the layout uses.</summary>
    public int Devices => Stages.Concat(EncoderStages).Sum(s => s.Tp);

    internal static IReadOnlyList<StagePlan> Of(Pipeline pipeline, bool prefill)
    {
        var stages = new StagePlan[pipeline.Depth];
        int layer = 0;
        for (int i = 0; i < stages.Length; i++)
        {
            Stage s = pipeline.Stages[i];
            int layers = prefill ? s.PrefillLayers : s.DecodeLayers;
            stages[i] = new StagePlan(s.FirstDevice, s.Tp, layer, layer + layers);
            layer += layers;
        }
        return stages;
    }
}
