namespace ExeGPT.Simulator;

/// <summary>The baselines on the FasterTransformer layout the paper gives them (§7.1): the largest
/// tensor-parallel degree inside a node, pipeline stages across nodes, one decode micro-batch per stage.</summary>
internal static class BaselineModels
{
    /// <summary>TP degree of the FT layout: the largest one dividing the heads, the devices and the node.</summary>
    public static int FtTensorParallel(SimulationContext ctx, int devices)
    {
        for (int d = Math.Min(devices, ctx.Cluster.DevicesPerNode); d > 1; d--)
            if (devices % d == 0 && ctx.Cluster.DevicesPerNode % d == 0 && ctx.Model.SupportsTensorParallel(d))
                return d;
        return 1;
    }

    internal static RraModel.Plan? FtLayout(SimulationContext ctx, Schedule s, int devices, out string? reason)
    {
        int tp = FtTensorParallel(ctx, devices);
        var layout = s with { TpDegree = tp, TpGroups = tp > 1 ? devices / tp : 0 };
        return RraModel.Layout(ctx, layout, devices, s.EncoderBatch, out reason);
    }

    /// <summary>Static batching: prefill the batch, then decode until its longest member is done (no early
    /// termination), then the next batch. The paper holds FT to the maximum output length.</summary>
    public static SimulationResult StaticExpected(SimulationContext ctx, Schedule s, int devices)
    {
        RraModel.Plan? plan = FtLayout(ctx, s, devices, out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, SimulationMode.Expected, reason!);
        int p = plan.Pipeline.Depth, dmax = ctx.Stats.StepsMax;
        double b = s.EncoderBatch;
        double[] busy = new double[plan.Pipeline.Kinds.Length];
        double prefill = plan.Encode(b, ctx.Stats.InputRms, ctx.Stats.InputMean, null);
        double[] cumulative = new double[dmax + 1], drains = new double[dmax + 1];
        plan.DecodePhase(dmax, u => (b, ctx.Stats.SelfContextBase + u), cumulative, drains, null);
        double drain = drains[dmax];
        double BatchTime(int steps) => prefill + cumulative[steps] + (steps > 0 ? drain : 0);
        // Encoder-decoder models emit their first token from the first decode step.
        double ttft = ctx.Stats.StepOffset == 1 || dmax == 0 ? prefill : prefill + cumulative[1] + drains[1];

        // The batch's decode length is the max of b draws: P(max <= x) = F(x)^b.
        double[] pMax = new double[dmax + 1];
        double cdf = 0, previous = 0, expectedTime = 0, expectedSteps = 0;
        for (int x = 0; x <= dmax; x++)
        {
            cdf += ctx.Stats.StepsProbability[x];
            double now = Math.Pow(Math.Min(1, cdf), b);
            pMax[x] = now - previous;
            previous = now;
            expectedTime += pMax[x] * BatchTime(x);
            expectedSteps += pMax[x] * x;
        }
        double[] times = new double[dmax + 1], tpots = new double[dmax + 1];
        for (int x = 0; x <= dmax; x++)
        {
            times[x] = BatchTime(x);
            tpots[x] = x > 0 ? (times[x] - prefill) / x : 0;
        }
        // Every member returns when the batch ends.
        LatencyStats e2e = LatencyStats.FromWeighted(times, pMax);
        plan.Encode(b, ctx.Stats.InputRms, ctx.Stats.InputMean, busy);
        int meanSteps = (int)Math.Round(expectedSteps);
        if (meanSteps > 0)
            plan.DecodePhase(meanSteps, u => (b, ctx.Stats.SelfContextBase + u), new double[meanSteps + 1], new double[meanSteps + 1], busy);

        var reports = new List<DeviceReport>(devices);
        ResultParts.AddDevices(reports, ctx, plan.Pipeline, "both",
            i => busy[plan.Pipeline.KindOf[i]] / expectedTime,
            i => MemoryModel.Activations(ctx.Model, plan.Pipeline.Stages[i], Math.Ceiling(b / Math.Min(p, b)) * ctx.Stats.InputMean,
                b, i == p - 1),
            i => MemoryModel.DecodeKv(ctx.Model, plan.Pipeline.Stages[i], b, ctx.Stats.MaxSlotLength, ctx.Stats.InputMax));
        string? memory = ResultParts.MemoryProblem(reports);
        return new SimulationResult
        {
            Schedule = s,
            Mode = SimulationMode.Expected,
            Feasible = memory is null,
            Reason = memory,
            ThroughputSeqPerS = b / expectedTime,
            ThroughputTokensPerS = b * ctx.Stats.OutputMean / expectedTime,
            LatencyS = BatchTime(dmax),
            EndToEnd = e2e,
            Ttft = new LatencyStats(ttft, ttft, ttft, ttft),
            Tpot = LatencyStats.FromWeighted(tpots, pMax),
            DecodeBatch = b,
            PeakDecodeBatch = b,
            Layout = plan.Pipeline.Describe(),
            Devices = reports,
        };
    }

    /// <summary>Iteration-level continuous batching (ORCA; vLLM's iteration mode, as the paper emulates ORCA):
    /// each iteration decodes the running batch and admits at most one new query, whose prefill joins the
    /// iteration. With a cap of B sequences, a query occupies E[d] + 1 iterations, so admissions per iteration
    /// are a = min(1, B / (E[d] + 1)) and the running batch is a·(E[d] + 1) (Little's law). KV is paged.</summary>
    public static SimulationResult ContinuousExpected(SimulationContext ctx, Schedule s, int devices)
    {
        RraModel.Plan? plan = FtLayout(ctx, s, devices, out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, SimulationMode.Expected, reason!);
        int p = plan.Pipeline.Depth;
        double steps = ctx.Stats.StepsMean;
        double admit = Math.Min(1.0, s.EncoderBatch / (steps + 1));
        double decoding = admit * steps, resident = admit * (steps + 1);
        double[] busy = new double[plan.Pipeline.Kinds.Length];
        double period = Iteration(plan, ctx, decoding, ctx.Stats.DecodeContextMean, admit, ctx.Stats.InputRms, ctx.Stats.InputMean, busy);

        double E2E(int d) => (d + 1) * period;
        double Ttft(int d) => ctx.Stats.StepOffset == 1 || d == 0 ? period : 2 * period;
        var (e2e, ttft, tpot) = ResultParts.OverOutputs(ctx, E2E, Ttft);
        double throughput = admit / period;

        var reports = new List<DeviceReport>(devices);
        ResultParts.AddDevices(reports, ctx, plan.Pipeline, "both",
            i => busy[plan.Pipeline.KindOf[i]] / period,
            i => MemoryModel.Activations(ctx.Model, plan.Pipeline.Stages[i], ctx.Stats.InputMax + decoding, resident, i == p - 1),
            i => MemoryModel.DecodeKv(ctx.Model, plan.Pipeline.Stages[i], Math.Ceiling(resident),
                ctx.Stats.DecodeContextMean, ctx.Stats.InputMean));
        string? memory = ResultParts.MemoryProblem(reports);
        return new SimulationResult
        {
            Schedule = s,
            Mode = SimulationMode.Expected,
            Feasible = memory is null,
            Reason = memory,
            ThroughputSeqPerS = throughput,
            ThroughputTokensPerS = throughput * ctx.Stats.OutputMean,
            LatencyS = E2E(ctx.Stats.DecodeSteps(ctx.Stats.OutputP99)),
            EndToEnd = e2e,
            Ttft = ttft,
            Tpot = tpot,
            DecodeBatch = decoding,
            PeakDecodeBatch = s.EncoderBatch,
            Layout = plan.Pipeline.Describe(),
            Devices = reports,
        };
    }

    /// <summary>One continuous-batching iteration: <paramref name="decoding"/> decode steps over
    /// <paramref name="context"/> cached tokens plus <paramref name="prefills"/> (expected) prefills of the given
    /// RMS/mean length, one micro-batch per stage.</summary>
    internal static double Iteration(RraModel.Plan plan, SimulationContext ctx, double decoding, double context,
        double prefills, double prefillRms, double prefillMean, double[]? busy)
    {
        StageCosts costs = plan.Costs;
        double enc = ctx.Stats.InputMean;
        double StageTime(in Stage stage, bool last, int m) =>
            costs.Decode(stage, decoding / m, context, enc, last)
            + (prefills > 0 ? prefills / m * costs.Prefill(stage, 1, prefillRms, prefillMean, last) : 0);
        int limit = (int)Math.Clamp(Math.Ceiling(decoding + prefills), 1, plan.Pipeline.Depth);
        var (period, best, _) = Pipeline.BestPeriod(limit, k => plan.Pipeline.Times((st, last) => StageTime(st, last, k)));
        if (busy is not null)
            plan.Pipeline.Times((st, last) => StageTime(st, last, best), busy, best);
        return period;
    }
}
