using ExeGPT.Core.Models;
using ExeGPT.Core.Workloads;

namespace ExeGPT.Simulator;

/// <summary>Workload moments the expected-value model uses. A query of S output tokens needs
/// <see cref="DecodeSteps"/>(S) decode iterations: S − 1 for decoder-only models (the prefill emits the
/// first token, as in our engine) and S for encoder-decoder models (the decoder emits every token).</summary>
public sealed class WorkloadStats
{
    internal WorkloadStats(ModelSpec model, WorkloadSpec workload)
    {
        StepOffset = model.Architecture == ModelArchitecture.EncoderDecoder ? 0 : 1;
        LengthDistribution input = workload.Input, output = workload.Output;
        InputMean = input.Mean;
        InputRms = Math.Sqrt(input.Expectation(s => (double)s * s));
        InputMax = input.Max;
        OutputP99 = output.Quantile(0.99);
        StepsMax = DecodeSteps(output.Max);
        StepsProbability = new double[StepsMax + 1];
        for (int s = output.Min; s <= output.Max; s++)
            StepsProbability[DecodeSteps(s)] += output.Probability(s);
        double mean = 0, biasedContext = 0;
        for (int d = 0; d <= StepsMax; d++)
        {
            mean += d * StepsProbability[d];
            biasedContext += StepsProbability[d] * d * (d + 1) / 2.0;
        }
        StepsMean = mean;
        OutputMean = output.Mean;
        // Each decode step of a query with d steps sees input + 1..d cached tokens; over a steady-state batch
        // the steps are length-biased: E[sum_t (in + t)] / E[d].
        SelfContextBase = StepOffset == 1 ? InputMean : 0;
        DecodeContextMean = mean > 0 ? SelfContextBase + biasedContext / mean : SelfContextBase + 1;
        MaxSlotLength = (StepOffset == 1 ? input.Max : 0) + output.Max;
    }

    /// <summary>1 for decoder-only models (prefill emits the first token), 0 for encoder-decoder.</summary>
    public int StepOffset { get; }

    /// <summary>Decode iterations a query of <paramref name="outputLength"/> tokens needs.</summary>
    public int DecodeSteps(int outputLength) => Math.Max(0, outputLength - StepOffset);

    /// <summary>E[input length].</summary>
    public double InputMean { get; }

    /// <summary>sqrt(E[input²]): the uniform length with the same causal-attention work as a ragged batch.</summary>
    public double InputRms { get; }

    /// <summary>Longest input.</summary>
    public int InputMax { get; }

    /// <summary>E[output length].</summary>
    public double OutputMean { get; }

    /// <summary>99th-percentile output length: the paper's latency target.</summary>
    public int OutputP99 { get; }

    /// <summary>P(decode steps = d), d = 0..StepsMax.</summary>
    public double[] StepsProbability { get; }

    /// <summary>Most decode steps.</summary>
    public int StepsMax { get; }

    /// <summary>E[decode steps].</summary>
    public double StepsMean { get; }

    /// <summary>What a decode step's self-attention sees before its generated tokens: the prompt for
    /// decoder-only models, nothing for encoder-decoder models (their prompt is cross-attended).</summary>
    public double SelfContextBase { get; }

    /// <summary>Mean self-attention KV length a steady-state decode step attends over.</summary>
    public double DecodeContextMean { get; }

    /// <summary>A self-attention KV-cache slot's length (no paging, as in FasterTransformer): input max + output
    /// max for decoder-only models, output max for encoder-decoder ones (their cross-attention KV is separate).</summary>
    public int MaxSlotLength { get; }
}
