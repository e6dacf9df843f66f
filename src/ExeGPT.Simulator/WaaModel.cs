using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Simulator;

/// <summary>WAA: the first N_E devices encode (a pipeline of single-device stages holding the prefill
/// layers — for decoder-only models a second copy of the model), the rest decode (a pipeline with the
/// schedule's partial tensor parallelism). The two run asynchronously: each encoded batch's KV cache goes
/// device → pinned host → device and merges into the running decode batch, which is split into
/// micro-batches circulating through the decoder stages.
///
/// Rates: the paper sets B_D = B_E·S_D, i.e. one encoded batch per decode iteration. When the encoders are
/// slower than that, the decoders run with the smaller batch b that solves b = X·E[d]·T_it(b) (Little's
/// law at the encoders' rate X); when they are faster, the encoders wait (back-pressure) and X is the
/// decoders' rate at B_D = B_E·S_D.</summary>
internal static class WaaModel
{
    /// <summary>Encoder and decoder pipelines and their timing.</summary>
    internal sealed class Plan
    {
        public required Pipeline Encoder { get; init; }
        public required Pipeline Decoder { get; init; }
        public required StageCosts Costs { get; init; }
        public required SimulationContext Context { get; init; }
        /// <summary>The schedule's decoder micro-batches (0: chosen per iteration to minimise the period).</summary>
        public required int MicroBatches { get; init; }

        /// <summary>Encoder stage times for one batch; returns (pass latency, bottleneck period).</summary>
        public (double Latency, double Period) Encode(double batch, double seqRms, double seqMean, double[]? stageTimes = null)
        {
            double sum = 0, max = 0;
            int p = Encoder.Depth;
            for (int i = 0; i < p; i++)
            {
                double t = Costs.Prefill(Encoder.Stages[i], batch, seqRms, batch * seqMean, i == p - 1);
                if (stageTimes is not null) stageTimes[i] = t;
                sum += t;
                max = Math.Max(max, t);
            }
            return (sum, max);
        }

        /// <summary>KV hand-off of one encoded batch: every encoder stage ships its layers' cache in parallel
        /// (encoder-decoder models: the last stage ships the cross-attention KV of every decoder layer).</summary>
        public double HandOff(double batch, double seqMean)
        {
            ModelSpec model = Context.Model;
            double perLayer = model.KvBytesPerTokenPerLayer * batch * seqMean;
            if (model.Architecture == ModelArchitecture.EncoderDecoder)
                return Context.Profile.Send(LinkClass.HostStaged, perLayer * model.DecoderLayers);
            double worst = 0;
            foreach (Stage s in Encoder.Stages)
                worst = Math.Max(worst, Context.Profile.Send(LinkClass.HostStaged, perLayer * s.PrefillLayers));
            return worst;
        }

        /// <summary>One decode iteration of <paramref name="batch"/> sequences: (period, micro-batches used).
        /// With <see cref="MicroBatches"/> = 0 the count minimising the period is chosen (it shortens the
        /// iteration, so it helps throughput and latency alike); otherwise the schedule's count, capped at the
        /// decoder depth and the batch.</summary>
        public (double Period, int MicroBatches) Iteration(double batch, double context, double[]? busyPerKind = null)
        {
            if (batch <= 0)
                return (0, 0);
            StageCosts costs = Costs;
            double enc = Context.Stats.InputMean;
            int limit = (int)Math.Clamp(Math.Ceiling(batch), 1, Decoder.Depth);
            (double Sum, double Max) Times(int m) => Decoder.Times((st, last) => costs.Decode(st, batch / m, context, enc, last));
            double period;
            int chosen;
            if (MicroBatches == 0)
                (period, chosen, _) = Pipeline.BestPeriod(limit, Times);
            else
            {
                chosen = Math.Min(MicroBatches, limit);
                var (sum, max) = Times(chosen);
                period = Math.Max(sum, chosen * max);
            }
            if (busyPerKind is not null)
                Decoder.Times((st, last) => costs.Decode(st, batch / chosen, context, enc, last), busyPerKind, chosen);
            return (period, chosen);
        }
    }

    /// <summary>Builds the plan for <paramref name="encoderDevices"/> encoders; null with a reason when impossible.</summary>
    internal static Plan? Layout(SimulationContext ctx, Schedule s, int devices, int encoderDevices, double referenceBatch,
        out string? reason)
    {
        ModelSpec model = ctx.Model;
        int decoderDevices = devices - encoderDevices;
        var encGroups = Pipeline.Groups(ctx.Cluster, 0, encoderDevices, 1, 0, out reason);
        var decGroups = Pipeline.Groups(ctx.Cluster, encoderDevices, decoderDevices, s.TpDegree, s.TpGroups, out reason);
        if (encGroups is null || decGroups is null)
            return null;
        var costs = new StageCosts(ctx);
        double[] encSpeed = new double[encGroups.Length];
        Array.Fill(encSpeed, 1.0);
        double[] decSpeed = new double[decGroups.Length];
        for (int i = 0; i < decGroups.Length; i++)
            decSpeed[i] = 1.0 / costs.DecodeLayer(decGroups[i].Tp, referenceBatch, ctx.Stats.DecodeContextMean, ctx.Stats.InputMean);
        int[]? encLayers = Pipeline.SplitLayers(model.PrefillLayers, encSpeed);
        int[]? decLayers = Pipeline.SplitLayers(model.DecoderLayers, decSpeed);
        if (encLayers is null || decLayers is null)
        {
            reason = $"{encGroups.Length} encoder / {decGroups.Length} decoder stages exceed the model's layers";
            return null;
        }
        return new Plan
        {
            Encoder = Pipeline.Build(ctx.Cluster, encGroups, encLayers, new int[encGroups.Length]),
            Decoder = Pipeline.Build(ctx.Cluster, decGroups, new int[decGroups.Length], decLayers),
            Costs = costs,
            Context = ctx,
            MicroBatches = s.MicroBatches,
        };
    }

    /// <summary>Encoder batch at which WAA-C weighs encoding against decoding. The paper computes C_E and C_D
    /// at the schedule's own B_E; the split then jumps as B_E moves, which breaks the monotonicity
    /// branch-and-bound relies on, so we fix the split per (model, cluster, workload) at this reference.</summary>
    internal const int SplitReferenceBatch = 8;

    /// <summary>WAA-C: encoders ≈ N·C_E/(C_E + C_D), with C_E the time to encode a batch and C_D the time of
    /// one decode iteration of the B_E·E[d] queries it feeds, both over the whole model on one device
    /// (rounded to nearest, at least one device each).</summary>
    internal static int ComputeSplit(SimulationContext ctx, int devices)
    {
        var costs = new StageCosts(ctx);
        double be = SplitReferenceBatch;
        double ce = ctx.Model.PrefillLayers * costs.PrefillLayer(1, be, ctx.Stats.InputRms, be * ctx.Stats.InputMean);
        double cd = ctx.Model.DecoderLayers * costs.DecodeLayer(1, Math.Max(1, be * ctx.Stats.StepsMean), ctx.Stats.DecodeContextMean, ctx.Stats.InputMean);
        int ne = (int)Math.Round(devices * ce / (ce + cd), MidpointRounding.AwayFromZero);
        return Math.Clamp(ne, 1, devices - 1);
    }

    /// <summary>WAA-M: as few encoders as can hold their copy of the prefill layers (with 10% of each device
    /// left for activations), so every other device's memory goes to decode KV cache. At the batch sizes
    /// throughput pushes toward, the decoders fill up too, so both groups end near the same (full) memory —
    /// the paper's balance — with the long encoding stages the paper warns of.</summary>
    internal static int MemorySplit(SimulationContext ctx, int devices)
    {
        ModelSpec model = ctx.Model;
        long prefillWeights = (model.Architecture == ModelArchitecture.EncoderDecoder
            ? (long)model.EncoderLayers * model.EncoderLayerParams
            : (long)model.DecoderLayers * model.DecoderLayerParams) * model.DtypeBytes;
        double room = 0.9 * ctx.Cluster.Device.UsableMemoryBytes;
        int ne = (int)Math.Ceiling(prefillWeights / room);
        return Math.Clamp(ne, 1, devices - 1);
    }

    /// <summary>The encoder devices the schedule's policy sets aside: by compute (WAA-C) or by memory (WAA-M).</summary>
    internal static int Split(SimulationContext ctx, Schedule s, int devices) =>
        s.Policy == Policy.WaaC ? ComputeSplit(ctx, devices) : MemorySplit(ctx, devices);

    /// <summary>The stages <see cref="Expected"/> times with <paramref name="ne"/> encoder devices: the decoder's
    /// layers split by speed at its target batch per device, B_D = B_E·S_D (one encoded batch per decode
    /// iteration).</summary>
    internal static Plan? PlanFor(SimulationContext ctx, Schedule s, int devices, int ne, out string? reason) =>
        Layout(ctx, s, devices, ne, Math.Max(1, s.EncoderBatch * ctx.Stats.StepsMean / Math.Max(1, devices - ne)), out reason);

    public static SimulationResult Expected(SimulationContext ctx, Schedule s, int devices)
    {
        const SimulationMode mode = SimulationMode.Expected;
        int ne = Split(ctx, s, devices);
        double be = s.EncoderBatch, steps = ctx.Stats.StepsMean, context = ctx.Stats.DecodeContextMean;
        double target = be * steps;   // B_D = B_E·S_D
        Plan? plan = PlanFor(ctx, s, devices, ne, out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, mode, reason!) with { EncoderDevices = ne };

        var (encLatency, encPeriod) = plan.Encode(be, ctx.Stats.InputRms, ctx.Stats.InputMean);
        double handOff = plan.HandOff(be, ctx.Stats.InputMean);
        double encoderPeriod = Math.Max(encPeriod, handOff);

        double batch = target, period = 0, throughput;
        if (target > 0)
        {
            period = plan.Iteration(target, context).Period;
            double decoderRate = be / period, encoderRate = be / encoderPeriod;
            if (encoderRate >= decoderRate)
                throughput = decoderRate;
            else
            {
                // Encoder-bound: the decode batch settles where arrivals × residence = batch — but never below one
                // encoded batch, which arrives whole (an underloaded decoder runs it at its own size, then idles).
                throughput = encoderRate;
                double floor = Math.Min(be, target);
                for (int it = 0; it < 50; it++)
                {
                    double next = Math.Clamp(throughput * steps * plan.Iteration(batch, context).Period, floor, target);
                    if (Math.Abs(next - batch) < 1e-9 * target) { batch = next; break; }
                    batch = next;
                }
                period = plan.Iteration(batch, context).Period;
            }
        }
        else
            throughput = be / encoderPeriod;

        double buffer = ctx.Options.WaaAdjustmentBuffer * encoderPeriod;
        // A query encodes, hands its KV off, then joins at the next iteration boundary — half an iteration
        // on average while the decoder is always busy (decoder-bound, or encoder-bound with overlapping
        // batches: busy share 1); an underloaded decoder finishes each batch before the next arrives and
        // takes it at once. Then one token per iteration.
        double busyShare = batch > 0 ? throughput * steps * period / batch : 0;
        double mergeWait = busyShare >= 1 - 1e-9 ? period / 2 : 0;
        double E2E(int d) => encLatency + buffer + (d == 0 ? 0 : handOff + mergeWait + d * period);
        double Ttft(int d) => ctx.Stats.StepOffset == 1 || d == 0 ? encLatency + buffer : E2E(1);
        var (e2e, ttft, tpot) = ResultParts.OverOutputs(ctx, E2E, Ttft);

        var reports = new List<DeviceReport>(devices);
        double encoderShare = throughput / be;   // encoder batches per second
        double[] decBusy = new double[plan.Decoder.Kinds.Length];
        int micro = batch > 0 ? plan.Iteration(batch, context, decBusy).MicroBatches : 1;
        double[] encTimes = new double[plan.Encoder.Depth];
        plan.Encode(be, ctx.Stats.InputRms, ctx.Stats.InputMean, encTimes);
        double slots = Math.Ceiling(target + be);   // the running batch plus one merging batch
        ResultParts.AddDevices(reports, ctx, plan.Encoder, "encoder",
            i => encTimes[i] * encoderShare,
            i => MemoryModel.Activations(ctx.Model, plan.Encoder.Stages[i], be * ctx.Stats.InputMean, be, i == plan.Encoder.Depth - 1),
            i => 2 * MemoryModel.PrefillKv(ctx.Model, plan.Encoder.Stages[i], be, ctx.Stats.InputMax));
        ResultParts.AddDevices(reports, ctx, plan.Decoder, "decoder",
            i => period > 0 ? decBusy[plan.Decoder.KindOf[i]] / period : 0,
            i => MemoryModel.Activations(ctx.Model, plan.Decoder.Stages[i], Math.Ceiling(slots / micro),
                Math.Ceiling(slots / micro), i == plan.Decoder.Depth - 1),
            i => MemoryModel.DecodeKv(ctx.Model, plan.Decoder.Stages[i], slots, ctx.Stats.MaxSlotLength, ctx.Stats.InputMax));
        string? memory = ResultParts.MemoryProblem(reports);
        return new SimulationResult
        {
            Schedule = s,
            Mode = mode,
            Feasible = memory is null,
            Reason = memory,
            ThroughputSeqPerS = throughput,
            ThroughputTokensPerS = throughput * ctx.Stats.OutputMean,
            LatencyS = E2E(ctx.Stats.DecodeSteps(ctx.Stats.OutputP99)),
            EndToEnd = e2e,
            Ttft = ttft,
            Tpot = tpot,
            DecodeBatch = batch,
            PeakDecodeBatch = slots,
            EncoderDevices = ne,
            Layout = $"encoders: {plan.Encoder.Describe()} | decoders: {plan.Decoder.Describe()}, {micro} micro-batches",
            Devices = reports,
        };
    }
}
