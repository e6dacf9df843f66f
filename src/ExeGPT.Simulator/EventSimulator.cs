namespace ExeGPT.Simulator;

/// <summary>Event-level mode: individual queries sampled (seeded) from the workload go through the same
/// layouts and per-stage costs as the expected-value model, with their actual lengths, batch sizes and
/// completions. A warm-up is discarded; throughput is measured over a steady-state window and latency over
/// the queries that entered in it. This is what the expected-value model is checked against.</summary>
internal static class EventSimulator
{
    private static (double Rms, double Mean) Lengths(List<SimQuery> batch)
    {
        double sum = 0, squares = 0;
        foreach (SimQuery q in batch)
        {
            sum += q.Input;
            squares += (double)q.Input * q.Input;
        }
        return (Math.Sqrt(squares / batch.Count), sum / batch.Count);
    }

    private static double MeanContext(List<SimQuery> running)
    {
        double sum = 0;
        foreach (SimQuery q in running) sum += q.Context;
        return sum / running.Count;
    }

    /// <summary>Advances every running query one decode step ending at <paramref name="time"/>; removes finished ones.</summary>
    private static void Step(List<SimQuery> running, double time, int stepOffset)
    {
        for (int i = running.Count - 1; i >= 0; i--)
        {
            SimQuery q = running[i];
            q.Done++;
            if (q.Done == 1 && stepOffset == 0)
                q.FirstToken = time;
            if (q.Remaining == 0)
            {
                q.Finish = time;
                running.RemoveAt(i);
            }
        }
    }

    public static SimulationResult Rra(SimulationContext ctx, Schedule s, int devices, SimulationResult expected)
    {
        int be = s.EncoderBatch, nd = s.DecodeIterations;
        RraModel.Plan? plan = RraModel.Layout(ctx, s, devices, Math.Max(1, expected.PeakDecodeBatch / Math.Max(1, devices)), out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, SimulationMode.Event, reason!);
        int warmCycles = ctx.Stats.StepsMax / nd + 2;
        int measuredCycles = Math.Max(4, (ctx.Options.EventQueries + be - 1) / be);
        int drainCycles = ctx.Stats.StepsMax / nd + 2;
        int totalCycles = warmCycles + measuredCycles + drainCycles;
        List<SimQuery> queries = EventRecorder.Sample(ctx, totalCycles * be, warmCycles * be, measuredCycles * be);
        var running = new List<SimQuery>();
        var batch = new List<SimQuery>(be);
        double time = 0, windowStart = 0, windowEnd = 0, batchSum = 0;
        long batchCount = 0;
        for (int cycle = 0; cycle < totalCycles; cycle++)
        {
            if (cycle == warmCycles) windowStart = time;
            if (cycle == warmCycles + measuredCycles) windowEnd = time;
            batch.Clear();
            for (int i = 0; i < be; i++) batch.Add(queries[cycle * be + i]);
            var (rms, mean) = Lengths(batch);
            double encode = plan.Encode(be, rms, mean, null);
            foreach (SimQuery q in batch)
            {
                q.Start = time;
                if (ctx.Stats.StepOffset == 1) q.FirstToken = time + encode;
                if (q.Steps == 0) q.Finish = time + encode;
                else running.Add(q);
            }
            time += encode;
            for (int u = 0; u < nd && running.Count > 0; u++)
            {
                if (cycle >= warmCycles && cycle < warmCycles + measuredCycles)
                {
                    batchSum += running.Count;
                    batchCount++;
                }
                (double period, double drain) = plan.Decode(running.Count, MeanContext(running), null);
                time += period;
                // A query leaving now is in the phase's last micro-batch at worst: charge the drain.
                Step(running, time + drain, ctx.Stats.StepOffset);
                if (u == nd - 1 || running.Count == 0) time += drain;
            }
        }
        double throughput = measuredCycles * be / (windowEnd - windowStart);
        return EventRecorder.Finish(ctx, expected, throughput, batchCount > 0 ? batchSum / batchCount : 0, queries);
    }

    public static SimulationResult Waa(SimulationContext ctx, Schedule s, int devices, SimulationResult expected)
    {
        int be = s.EncoderBatch;
        int ne = expected.EncoderDevices;
        WaaModel.Plan? plan = WaaModel.PlanFor(ctx, s, devices, ne, out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, SimulationMode.Event, reason!);
        int cap = (int)Math.Ceiling(be * ctx.Stats.StepsMean + be);
        // Enough batches to fill the decoder (warm-up), then the measured ones, then a tail that keeps the
        // decoder loaded while the measured queries finish.
        int warmBatches = (int)Math.Ceiling(2.0 * (cap + ctx.Stats.StepsMax) / be) + 2;
        int measuredBatches = Math.Max(4, (ctx.Options.EventQueries + be - 1) / be);
        int tailBatches = warmBatches;
        int totalBatches = warmBatches + measuredBatches + tailBatches;
        List<SimQuery> queries = EventRecorder.Sample(ctx, totalBatches * be, warmBatches * be, measuredBatches * be);

        // Just-in-time encoding (as the runner does): batch i starts when batch i − gate merges, with gate the
        // number of decode iterations an encode + hand-off spans, plus one batch of slack against variance.
        // A larger gate only lets encoded queries queue for decode slots, adding latency and no throughput.
        int pe = plan.Encoder.Depth;
        var (encLatency, encPeriod) = plan.Encode(be, ctx.Stats.InputRms, ctx.Stats.InputMean);
        double decPeriod = plan.Iteration(Math.Max(1, be * ctx.Stats.StepsMean), ctx.Stats.DecodeContextMean).Period;
        double cadence = Math.Max(Math.Max(encPeriod, decPeriod), 1e-12);
        int gate = (int)Math.Ceiling((encLatency + plan.HandOff(be, ctx.Stats.InputMean)) / cadence) + 1;
        double[] stageFree = new double[pe], stageTimes = new double[pe];
        double[] ready = new double[totalBatches], merged = new double[totalBatches];
        Array.Fill(merged, double.NaN);
        int[] mergedCount = new int[totalBatches];
        double dmaFree = 0;
        int scheduled = 0, nextMerge = 0;
        var running = new List<SimQuery>(cap);
        var batch = new List<SimQuery>(be);
        double time = 0, batchSum = 0;
        long batchCount = 0;

        // Schedules encoder batches that may start by `until` (back-pressure: batch i starts only after batch
        // i - gate has fully merged into the decoder).
        void Encode(double until, bool force)
        {
            while (scheduled < totalBatches)
            {
                int i = scheduled;
                double gateTime = i >= gate ? merged[i - gate] : 0;
                if (double.IsNaN(gateTime))
                    return;
                double start = Math.Max(stageFree[0], gateTime);
                if (start > until && !force)
                    return;
                force = false;
                batch.Clear();
                for (int j = 0; j < be; j++) batch.Add(queries[i * be + j]);
                var (rms, mean) = Lengths(batch);
                plan.Encode(be, rms, mean, stageTimes);
                double t = start;
                for (int st = 0; st < pe; st++)
                {
                    t = Math.Max(t, stageFree[st]) + stageTimes[st];
                    stageFree[st] = t;
                }
                double handOffStart = Math.Max(t, dmaFree);
                dmaFree = handOffStart + plan.HandOff(be, mean);
                ready[i] = dmaFree;
                foreach (SimQuery q in batch)
                {
                    q.Start = start;
                    if (ctx.Stats.StepOffset == 1) q.FirstToken = t;
                    if (q.Steps == 0) { q.Finish = t; mergedCount[i]++; }
                }
                if (mergedCount[i] == be) merged[i] = t;
                scheduled++;
            }
        }

        double windowStart = double.NaN, windowEnd = double.NaN;
        while (nextMerge < totalBatches)
        {
            Encode(time, force: false);
            // Merge handed-off queries whose KV has arrived, while slots are free.
            while (nextMerge < scheduled && ready[nextMerge] <= time && running.Count < cap)
            {
                int i = nextMerge;
                for (int j = 0; j < be && running.Count < cap; j++)
                {
                    SimQuery q = queries[i * be + j];
                    if (q.Steps == 0 || q.Merged) continue;
                    q.Merged = true;
                    running.Add(q);
                    mergedCount[i]++;
                }
                if (mergedCount[i] < be)
                    break;
                merged[i] = time;
                if (i == warmBatches) windowStart = time;
                if (i == warmBatches + measuredBatches) windowEnd = time;
                nextMerge++;
            }
            if (nextMerge < totalBatches && scheduled <= nextMerge)
                Encode(double.PositiveInfinity, force: true);
            if (running.Count == 0)
            {
                // Idle decoder: wait for the next hand-off.
                if (nextMerge >= totalBatches) break;
                if (nextMerge >= scheduled) Encode(double.PositiveInfinity, force: true);
                time = Math.Max(time, ready[nextMerge]);
                continue;
            }
            if (!double.IsNaN(windowStart) && double.IsNaN(windowEnd))
            {
                batchSum += running.Count;
                batchCount++;
            }
            double period = plan.Iteration(running.Count, MeanContext(running)).Period;
            time += period;
            Step(running, time, ctx.Stats.StepOffset);
        }
        // Let the measured queries finish (no new arrivals are needed for their latency).
        while (running.Count > 0)
        {
            time += plan.Iteration(running.Count, MeanContext(running)).Period;
            Step(running, time, ctx.Stats.StepOffset);
        }
        if (double.IsNaN(windowEnd)) windowEnd = time;
        double throughput = measuredBatches * be / (windowEnd - windowStart);
        return EventRecorder.Finish(ctx, expected, throughput, batchCount > 0 ? batchSum / batchCount : 0, queries);
    }

    public static SimulationResult Static(SimulationContext ctx, Schedule s, int devices, SimulationResult expected)
    {
        RraModel.Plan? plan = BaselineModels.FtLayout(ctx, s, devices, out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, SimulationMode.Event, reason!);
        int b = s.EncoderBatch;
        int batches = Math.Max(4, (ctx.Options.EventQueries + b - 1) / b);
        List<SimQuery> queries = EventRecorder.Sample(ctx, batches * b, 0, batches * b);
        var batch = new List<SimQuery>(b);
        double time = 0, worst = 0;
        for (int k = 0; k < batches; k++)
        {
            batch.Clear();
            int longest = 0;
            for (int i = 0; i < b; i++)
            {
                SimQuery q = queries[k * b + i];
                batch.Add(q);
                longest = Math.Max(longest, q.Steps);
            }
            var (rms, mean) = Lengths(batch);
            double start = time;
            time += plan.Encode(b, rms, mean, null);
            double firstToken = time, drain = 0;
            for (int u = 1; u <= longest; u++)
            {
                (double period, drain) = plan.Decode(b, (ctx.Stats.StepOffset == 1 ? mean : 0) + u, null);
                time += period;
            }
            time += drain;
            worst = Math.Max(worst, time - start);
            foreach (SimQuery q in batch)
            {
                q.Start = start;
                q.FirstToken = ctx.Stats.StepOffset == 1 ? firstToken : firstToken + (time - firstToken) / Math.Max(1, longest);
                q.Finish = time;   // static batching returns the whole batch at its end
            }
        }
        double throughput = batches * b / time;
        return EventRecorder.Finish(ctx, expected, throughput, expected.DecodeBatch, queries);
    }

    public static SimulationResult Continuous(SimulationContext ctx, Schedule s, int devices, SimulationResult expected)
    {
        RraModel.Plan? plan = BaselineModels.FtLayout(ctx, s, devices, out string? reason);
        if (plan is null)
            return SimulationResult.Infeasible(s, SimulationMode.Event, reason!);
        int cap = s.EncoderBatch;
        int warm = (int)Math.Ceiling(2 * (ctx.Stats.StepsMax + 1.0)) + cap;
        int measuredCount = ctx.Options.EventQueries;
        int total = warm + measuredCount + warm;
        List<SimQuery> queries = EventRecorder.Sample(ctx, total, warm, measuredCount);
        var running = new List<SimQuery>(cap);
        double time = 0, windowStart = double.NaN, windowEnd = double.NaN, batchSum = 0;
        long batchCount = 0;
        int next = 0;
        while (next < total || running.Count > 0)
        {
            SimQuery? admitted = null;
            if (next < total && running.Count < cap)
            {
                admitted = queries[next];
                if (next == warm) windowStart = time;
                if (next == warm + measuredCount) windowEnd = time;
                next++;
                admitted.Start = time;
            }
            int decoding = running.Count;
            if (decoding == 0 && admitted is null) break;
            double context = decoding > 0 ? MeanContext(running) : 0;
            double input = admitted?.Input ?? 0;
            double period = BaselineModels.Iteration(plan, ctx, decoding, context, admitted is null ? 0 : 1, input, input, null);
            if (!double.IsNaN(windowStart) && double.IsNaN(windowEnd))
            {
                batchSum += decoding;
                batchCount++;
            }
            time += period;
            Step(running, time, ctx.Stats.StepOffset);
            if (admitted is not null)
            {
                if (ctx.Stats.StepOffset == 1) admitted.FirstToken = time;
                if (admitted.Steps == 0) admitted.Finish = time;
                else running.Add(admitted);
            }
        }
        if (double.IsNaN(windowEnd)) windowEnd = time;
        double throughput = measuredCount / (windowEnd - windowStart);
        return EventRecorder.Finish(ctx, expected, throughput, batchCount > 0 ? batchSum / batchCount : 0, queries);
    }
}
