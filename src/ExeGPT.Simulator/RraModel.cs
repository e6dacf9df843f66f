using ExeGPT.Core.Models;

namespace ExeGPT.Simulator;

/// <summary>RRA: one model copy pipelined over every device (each stage holds a slice of the encoder and of
/// the decoder layers). A cycle encodes B_E queries (split into one micro-batch per stage) and then runs
/// N_D decode iterations of the running batch (one micro-batch per stage, as FasterTransformer does);
/// finished queries leave at once (early termination).</summary>
internal static class RraModel
{
    /// <summary>The layout and per-phase timing RRA's two modes share.</summary>
    internal sealed class Plan
    {
        public required Pipeline Pipeline { get; init; }
        public required StageCosts Costs { get; init; }
        public required SimulationContext Context { get; init; }

        /// <summary>Encode phase for a batch described by its size, RMS and mean input length, split into one
        /// micro-batch per stage (or fewer when there are fewer queries): its time, with busy time per stage
        /// kind added to <paramref name="busy"/>.</summary>
        public double Encode(double batch, double seqRms, double seqMean, double[]? busy)
        {
            int m = (int)Math.Clamp(Math.Ceiling(batch), 1, Pipeline.Depth);
            double mb = batch / m;
            StageCosts costs = Costs;
            var (sum, max) = Pipeline.Times((st, last) => costs.Prefill(st, mb, seqRms, mb * seqMean, last), busy, m);
            return sum + (m - 1) * max;
        }

        /// <summary>One decode iteration with the best number of micro-batches: (period, drain of its last
        /// micro-batch behind the first).</summary>
        public (double Period, double Drain) Decode(double batch, double context, double[]? busy, double repeat = 1)
        {
            if (batch <= 0)
                return (0, 0);
            StageCosts costs = Costs;
            double enc = Context.Stats.InputMean;
            int limit = (int)Math.Clamp(Math.Ceiling(batch), 1, Pipeline.Depth);
            var (period, m, drain) = Pipeline.BestPeriod(limit,
                k => Pipeline.Times((st, last) => costs.Decode(st, batch / k, context, enc, last)));
            if (busy is not null)
                Pipeline.Times((st, last) => costs.Decode(st, batch / m, context, enc, last), busy, m * repeat);
            return (period, drain);
        }

        /// <summary>Iterations evaluated exactly in a decode phase; longer phases are sampled at this many evenly
        /// spaced iterations and interpolated linearly between them (batch and context change smoothly within a
        /// phase, and this keeps one evaluation cheap enough for the search).</summary>
        public const int PhaseSamples = 32;

        /// <summary>Fills cumulative[u] (time from the phase start to the end of iteration u, u = 1..n, excluding
        /// drain) and drain[u] for a phase whose iteration u has <paramref name="at"/>(u) = (batch, context).</summary>
        public void DecodePhase(int n, Func<int, (double Batch, double Context)> at, double[] cumulative, double[] drain, double[]? busy)
        {
            if (n <= PhaseSamples)
            {
                for (int u = 1; u <= n; u++)
                {
                    var (b, c) = at(u);
                    (double period, double d) = Decode(b, c, busy);
                    cumulative[u] = cumulative[u - 1] + period;
                    drain[u] = d;
                }
                return;
            }
            int prev = 0;
            double prevPeriod = 0, prevDrain = 0;
            for (int k = 0; k < PhaseSamples; k++)
            {
                int u = 1 + (int)Math.Round(k * (n - 1) / (double)(PhaseSamples - 1));
                if (u <= prev) continue;
                var (b, c) = at(u);
                (double period, double d) = Decode(b, c, busy, u - prev);
                if (prev == 0) { prevPeriod = period; prevDrain = d; }
                for (int v = prev + 1; v <= u; v++)
                {
                    double f = u == prev ? 1 : (v - prev) / (double)(u - prev);
                    double pv = prev == 0 ? period : prevPeriod + f * (period - prevPeriod);
                    cumulative[v] = cumulative[v - 1] + pv;
                    drain[v] = prev == 0 ? d : prevDrain + f * (d - prevDrain);
                }
                prev = u;
                prevPeriod = period;
                prevDrain = d;
            }
        }
    }

    /// <summary>Lays the model over the schedule's devices; null with a reason when it cannot be laid out.</summary>
    internal static Plan? Layout(SimulationContext ctx, Schedule s, int devices, double referenceBatch, out string? reason)
    {
        var groups = Pipeline.Groups(ctx.Cluster, 0, devices, s.TpDegree, s.TpGroups, out reason);
        if (groups is null)
            return null;
        var costs = new StageCosts(ctx);
        ModelSpec model = ctx.Model;
        // Layers in proportion to each stage's speed on a reference decode step, so TP groups get more.
        double[] speed = new double[groups.Length];
        for (int i = 0; i < groups.Length; i++)
            speed[i] = 1.0 / costs.DecodeLayer(groups[i].Tp, referenceBatch, ctx.Stats.DecodeContextMean, ctx.Stats.InputMean);
        int[]? decode = Pipeline.SplitLayers(model.DecoderLayers, speed);
        int[]? prefill = model.Architecture == ModelArchitecture.EncoderDecoder
            ? Pipeline.SplitLayers(model.EncoderLayers, speed)
            : decode;
        if (decode is null || prefill is null)
        {
            reason = $"{groups.Length} pipeline stages exceed the model's {Math.Min(model.DecoderLayers, model.PrefillLayers)} layers";
            return null;
        }
        return new Plan { Pipeline = Pipeline.Build(ctx.Cluster, groups, prefill, decode), Costs = costs, Context = ctx };
    }

    /// <summary>Decode batch per encoded query at each iteration of the phase, under the batch model in force.</summary>
    private static double[] BatchFactors(SimulationContext ctx, RraPhaseShape shape) =>
        ctx.Options.RraBatch == RraBatchModel.Paper ? shape.PaperBatchPerEncoded : shape.BatchPerEncoded;

    /// <summary>The stages <see cref="Expected"/> times: layers split by each stage's speed at the phase's peak
    /// decode batch per device.</summary>
    internal static Plan? PlanFor(SimulationContext ctx, Schedule s, int devices, out string? reason)
    {
        double peakBatch = s.EncoderBatch * BatchFactors(ctx, ctx.RraShape(s.DecodeIterations))[0];
        return Layout(ctx, s, devices, Math.Max(1, peakBatch / Math.Max(1, devices)), out reason);
    }

    public static SimulationResult Expected(SimulationContext ctx, Schedule s, int devices)
    {
        const SimulationMode mode = SimulationMode.Expected;
        RraPhaseShape shape = ctx.RraShape(s.DecodeIterations);
        double[] factor = BatchFactors(ctx, shape);
        int nd = s.DecodeIterations;
        double be = s.EncoderBatch, peakBatch = be * factor[0];

        Plan? plan = PlanFor(ctx, s, devices, out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, mode, reason!);
        int p = plan.Pipeline.Depth;
        double[] busy = new double[plan.Pipeline.Kinds.Length];

        double encode = plan.Encode(be, ctx.Stats.InputRms, ctx.Stats.InputMean, busy);
        // cumulative[u] = time from the decode phase's start to the end of iteration u (drain included).
        double[] cumulative = new double[nd + 1];
        double[] drain = new double[nd + 1];
        double batchSum = 0, smallest = double.PositiveInfinity;
        for (int u = 1; u <= nd; u++)
        {
            batchSum += be * factor[u - 1];
            smallest = Math.Min(smallest, be * factor[u - 1]);
        }
        plan.DecodePhase(nd, u => (be * factor[u - 1], shape.MeanContext[u - 1]), cumulative, drain, busy);
        // A query's own latency: late in a phase the expected batch can fall below one, but the query being
        // timed is in every iteration it waits for, so its steps run at a batch of at least one.
        double[] ownCumulative = cumulative, ownDrain = drain;
        if (smallest < 1)
        {
            ownCumulative = new double[nd + 1];
            ownDrain = new double[nd + 1];
            plan.DecodePhase(nd, u => (Math.Max(1, be * factor[u - 1]), shape.MeanContext[u - 1]), ownCumulative, ownDrain, null);
        }
        double cycle = encode + cumulative[nd] + drain[nd];
        // The timed query decodes through every iteration of its earlier phases too.
        double ownCycle = encode + ownCumulative[nd] + ownDrain[nd];

        double E2E(int steps)
        {
            if (steps == 0)
                return encode;
            int phases = (steps + nd - 1) / nd, rest = steps - (phases - 1) * nd;
            return encode + (phases - 1) * ownCycle + ownCumulative[rest] + ownDrain[rest];
        }
        double Ttft(int steps) => ctx.Stats.StepOffset == 1 || steps == 0 ? encode : encode + ownCumulative[1] + ownDrain[1];
        var (e2e, ttft, tpot) = ResultParts.OverOutputs(ctx, E2E, Ttft);

        var reports = new List<DeviceReport>(devices);
        double slots = Math.Ceiling(peakBatch);
        double microTokens = Math.Ceiling(be / Math.Min(p, Math.Max(1, Math.Ceiling(be)))) * ctx.Stats.InputMean;
        ResultParts.AddDevices(reports, ctx, plan.Pipeline, "both",
            i => busy[plan.Pipeline.KindOf[i]] / cycle,
            i => MemoryModel.Activations(ctx.Model, plan.Pipeline.Stages[i], microTokens,
                Math.Max(slots / p, be / p), i == p - 1),
            i => MemoryModel.DecodeKv(ctx.Model, plan.Pipeline.Stages[i], slots, ctx.Stats.MaxSlotLength, ctx.Stats.InputMax));
        string? memory = ResultParts.MemoryProblem(reports);
        return new SimulationResult
        {
            Schedule = s,
            Mode = mode,
            Feasible = memory is null,
            Reason = memory,
            ThroughputSeqPerS = be / cycle,
            ThroughputTokensPerS = be * ctx.Stats.OutputMean / cycle,
            LatencyS = E2E(ctx.Stats.DecodeSteps(ctx.Stats.OutputP99)),
            EndToEnd = e2e,
            Ttft = ttft,
            Tpot = tpot,
            DecodeBatch = batchSum / nd,
            PeakDecodeBatch = peakBatch,
            Layout = plan.Pipeline.Describe(),
            Devices = reports,
        };
    }
}
