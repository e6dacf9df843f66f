namespace ExeGPT.Simulator;

/// <summary>The steady-state RRA decode phase for one N_D, per unit of encoder batch: the expected batch
/// and mean context at each of the N_D iterations.
///
/// Batch model (the issue asked us to settle it): a query with d decode steps is in the batch for
/// ⌈d/N_D⌉ phases, so by Little's law the batch at the start of a phase is B_E·E[⌈d/N_D⌉], and at
/// iteration u it holds every query with at least u steps left in its current phase:
/// B_E·Σ_d P(d)·#{j ≥ 0 : d − j·N_D ≥ u}. The paper's formula, B_D = B_E / E[1/⌈d/N_D⌉], draws the batch's
/// members from the unweighted P(d); a steady-state batch is length-biased (long queries stay longer), so
/// by Jensen it undercounts. The event-level simulator (individual queries, fixed B_E per cycle) measures
/// the Little's-law batch; the test RraBatchModelTests shows it and the paper's model is kept only as an
/// option (<see cref="RraBatchModel.Paper"/>) for comparison.</summary>
internal sealed class RraPhaseShape
{
    private RraPhaseShape(int decodeIterations, double[] batch, double[] context, double[] paperBatch)
    {
        DecodeIterations = decodeIterations;
        BatchPerEncoded = batch;
        MeanContext = context;
        PaperBatchPerEncoded = paperBatch;
    }

    /// <summary>N_D.</summary>
    public int DecodeIterations { get; }

    /// <summary>[u-1]: expected decode batch at iteration u per query encoded per cycle (Little's law).</summary>
    public double[] BatchPerEncoded { get; }

    /// <summary>[u-1]: mean KV length attended at iteration u.</summary>
    public double[] MeanContext { get; }

    /// <summary>[u-1]: the paper's batch at iteration u per query encoded per cycle.</summary>
    public double[] PaperBatchPerEncoded { get; }

    public static RraPhaseShape Build(WorkloadStats stats, int nd)
    {
        double[] batch = new double[nd], contextSum = new double[nd], paper = new double[nd];
        double[] p = stats.StepsProbability;
        double paperCompletions = 0;   // Σ_U P_D(U) over queries that decode at all
        double[] paperDone = new double[nd + 1];
        for (int d = 1; d < p.Length; d++)
        {
            if (p[d] == 0) continue;
            int phases = (d + nd - 1) / nd;
            // Paper: a query of d > N_D steps finishes in a given phase with probability 1/⌈d/N_D⌉, at
            // iteration 1 + (d − 1) mod N_D.
            int u = d <= nd ? d : 1 + (d - 1) % nd;
            paperDone[u] += p[d] / phases;
            paperCompletions += p[d] / phases;
            for (int it = 1; it <= nd && it <= d; it++)
            {
                // Phases j = 0..n-1 in which the query is still running at iteration `it`.
                int n = (d - it) / nd + 1;
                batch[it - 1] += p[d] * n;
                // Context = prompt (decoder-only) + tokens cached: j·N_D + it.
                contextSum[it - 1] += p[d] * (n * (stats.SelfContextBase + it) + nd * (n * (n - 1) / 2.0));
            }
        }
        double[] context = new double[nd];
        for (int i = 0; i < nd; i++)
            context[i] = batch[i] > 0 ? contextSum[i] / batch[i] : stats.SelfContextBase + i + 1;

        if (paperCompletions > 0)
        {
            // Over the queries that decode at all (a fraction 1 − P(d = 0) of each encoded batch), P_D(U) is
            // conditional on d ≥ 1: B_D = B_E·(1 − p0) / Σ_U P_D(U), and the batch shrinks by P_D(U) per iteration.
            double decoding = 1 - p[0];
            double bd = decoding / (paperCompletions / decoding), done = 0;
            for (int u = 1; u <= nd; u++)
            {
                paper[u - 1] = Math.Max(0, bd * (1 - done));
                done += paperDone[u] / decoding;
            }
        }
        return new RraPhaseShape(nd, batch, context, paper);
    }
}

/// <summary>Which RRA batch-size model the expected-value simulator uses.</summary>
public enum RraBatchModel
{
    /// <summary>Steady-state count by Little's law (default; matches the event-level simulation).</summary>
    LittlesLaw,
    /// <summary>The paper's B_D = B_E / Σ_U P_D(U) (kept for comparison).</summary>
    Paper,
}
