using System.Globalization;
using ExeGPT.Core;
using ExeGPT.Simulator;

namespace ExeGPT.Scheduler;

/// <summary>What the latency bound constrains.</summary>
public enum SloKind
{
    /// <summary>The paper's: the time to generate a 99th-percentile-length output is within the bound
    /// (static batching: the maximum length, as the paper holds FasterTransformer to it).</summary>
    P99Length,
    /// <summary>The paper's SLA-(a): 99% of queries finish within the bound (p99 end-to-end latency).</summary>
    SlaA,
    /// <summary>p99 time-to-first-token and p99 time-per-output-token bounds.</summary>
    TtftTpot,
}

/// <summary>A service-level objective. For <see cref="SloKind.TtftTpot"/> the searched "latency" is the
/// larger of TTFT/bound and TPOT/bound, so the bound is 1.</summary>
/// <param name="Kind">What is bounded.</param>
/// <param name="Latency">End-to-end bound in seconds (+∞ for none); unused for TTFT/TPOT.</param>
/// <param name="Ttft">p99 TTFT bound in seconds (TTFT/TPOT only).</param>
/// <param name="Tpot">p99 TPOT bound in seconds (TTFT/TPOT only).</param>
public sealed record Slo(SloKind Kind, double Latency, double Ttft = double.PositiveInfinity, double Tpot = double.PositiveInfinity)
{
    /// <summary>The number compared with <see cref="Bound"/>.</summary>
    public double Metric(SimulationResult r) => Kind switch
    {
        SloKind.P99Length => r.LatencyS,
        SloKind.SlaA => r.EndToEnd.P99,
        _ => Math.Max(r.Ttft.P99 / Ttft, r.Tpot.P99 / Tpot),
    };

    /// <summary>The bound on <see cref="Metric"/>.</summary>
    public double Bound => Kind == SloKind.TtftTpot ? 1.0 : Latency;

    /// <summary>"p99-length ≤ 9.8 s" style text.</summary>
    public override string ToString() => Kind switch
    {
        SloKind.P99Length => $"p99-length latency <= {Seconds(Latency)}",
        SloKind.SlaA => $"99% of queries within {Seconds(Latency)}",
        _ => $"p99 TTFT <= {Seconds(Ttft)} and p99 TPOT <= {Seconds(Tpot)}",
    };

    private static string Seconds(double s) => double.IsPositiveInfinity(s) ? "inf" : $"{s.ToString("G4", CultureInfo.InvariantCulture)} s";

    /// <summary>Parses a duration: "9.8s", "9.8", "250ms", "inf". Throws <see cref="SpecException"/> for zero,
    /// negative or malformed values.</summary>
    public static double ParseSeconds(string text, string what)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t is "inf" or "infinity" or "none")
            return double.PositiveInfinity;
        double scale = 1;
        if (t.EndsWith("ms", StringComparison.Ordinal)) { scale = 1e-3; t = t[..^2]; }
        else if (t.EndsWith("us", StringComparison.Ordinal)) { scale = 1e-6; t = t[..^2]; }
        else if (t.EndsWith('s')) t = t[..^1];
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || double.IsNaN(value))
            throw new SpecException($"{what}: '{text}' is not a duration (examples: 9.8s, 250ms, inf)");
        if (value <= 0)
            throw new SpecException($"{what}: the bound must be positive, got '{text}'");
        return value * scale;
    }

    /// <summary>Builds an SLO from the CLI's --latency and --slo (p99-length | sla-a | ttft=..,tpot=..).</summary>
    public static Slo Parse(string? latency, string? slo)
    {
        string kind = (slo ?? "p99-length").Trim().ToLowerInvariant();
        if (kind is "p99-length" or "p99" or "sla-b")
            return new Slo(SloKind.P99Length, ParseSeconds(latency ?? throw new SpecException("--latency is required for the p99-length SLO"), "--latency"));
        if (kind is "sla-a")
            return new Slo(SloKind.SlaA, ParseSeconds(latency ?? throw new SpecException("--latency is required for the sla-a SLO"), "--latency"));
        double ttft = double.PositiveInfinity, tpot = double.PositiveInfinity;
        bool any = false;
        foreach (string part in kind.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] kv = part.Split('=', 2);
            if (kv.Length == 2 && kv[0] == "ttft") { ttft = ParseSeconds(kv[1], "ttft"); any = true; }
            else if (kv.Length == 2 && kv[0] == "tpot") { tpot = ParseSeconds(kv[1], "tpot"); any = true; }
            else
                throw new SpecException($"--slo: '{slo}' is not p99-length, sla-a or ttft=<t>,tpot=<t>");
        }
        if (!any)
            throw new SpecException($"--slo: '{slo}' names no bound");
        return new Slo(SloKind.TtftTpot, double.PositiveInfinity, ttft, tpot);
    }
}
