using System.CommandLine;
using System.Globalization;
using System.Text;
using ExeGPT.Scheduler;
using ExeGPT.Scheduler.Json;
using ExeGPT.Simulator;

namespace ExeGPT.Cli;

/// <summary><c>exegpt schedule</c>: the highest-throughput schedule meeting a latency bound (the paper's XScheduler).</summary>
internal static class ScheduleCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var inputs = new PlanningInputs();
        var latency = new Option<string?>("--latency", "-l")
        {
            Description = "The latency bound: 9.8s, 250ms or inf (required unless --slo is ttft=..,tpot=..).",
        };
        var slo = new Option<string?>("--slo")
        {
            Description = "What the bound constrains: p99-length (the paper's: a p99-length output; default), sla-a " +
                          "(p99 end-to-end latency) or ttft=<t>,tpot=<t> (p99 time to first token / per output token).",
        };
        var policies = new Option<string?>("--policies")
        {
            Description = "Policies to search, comma-separated: rra, waa-c, waa-m, static, continuous (default rra,waa-c,waa-m).",
        };
        var exhaustive = new Option<bool>("--exhaustive") { Description = "Evaluate the whole grid instead of branch-and-bound (slow; for checking)." };
        var epsT = new Option<double>("--eps-t")
        {
            Description = "Throughput tolerance ε_T as a fraction of the incumbent (default 0.02).",
            DefaultValueFactory = _ => 0.02,
        };
        var epsL = new Option<double>("--eps-l")
        {
            Description = "Latency tolerance ε_L as a fraction of the bound (default 0.02).",
            DefaultValueFactory = _ => 0.02,
        };
        var maxBatch = new Option<int>("--max-batch")
        {
            Description = "Largest encoder batch B_E searched.",
            DefaultValueFactory = _ => 512,
        }.AtLeast(1);
        var frontier = new Option<bool>("--frontier") { Description = "Also print the throughput/latency frontier of the schedules evaluated." };
        var json = new Option<bool>("--json") { Description = "Print the answer as JSON (it can be passed to `exegpt simulate --schedule`)." };

        var command = new Command("schedule", "Find the schedule with the highest throughput that meets a latency bound.");
        inputs.AddTo(command);
        foreach (Option option in (Option[])[latency, slo, policies, exhaustive, epsT, epsL, maxBatch, frontier, json])
            command.Options.Add(option);
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, _ =>
        {
            Slo objective = Slo.Parse(parse.GetValue(latency), parse.GetValue(slo));
            IReadOnlyList<Policy>? families = ParsePolicies(parse.GetValue(policies));
            double tolT = Tolerance(parse.GetValue(epsT), "--eps-t"), tolL = Tolerance(parse.GetValue(epsL), "--eps-l");
            Planning planning = inputs.Resolve(parse);
            ScheduleOutcome outcome = XScheduler.Schedule(new ScheduleRequest(planning.Context, objective, families,
                parse.GetValue(exhaustive), tolT, tolL, parse.GetValue(maxBatch)));
            if (parse.GetValue(json))
                Console.Out.WriteLine(ResultJson.ToJson(outcome, objective, indented: true));
            else
                Console.Out.Write(Format(outcome, objective, planning, parse.GetValue(frontier)));
            return 0;
        }, needsEngine: false));
        return command;
    }

    internal static IReadOnlyList<Policy>? ParsePolicies(string? list)
    {
        if (list is null)
            return null;
        var result = new List<Policy>();
        foreach (string name in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Policy p = PolicyNames.Parse(name);
            if (!result.Contains(p))
                result.Add(p);
        }
        if (result.Count == 0)
            throw new ArgumentException("--policies: no policy named (expected some of rra, waa-c, waa-m, static, continuous)");
        return result;
    }

    private static double Tolerance(double value, string name) => value >= 0 && double.IsFinite(value)
        ? value
        : throw new ArgumentException($"{name} must be a finite fraction >= 0, got {value.ToString(CultureInfo.InvariantCulture)}");

    internal static string Format(ScheduleOutcome outcome, Slo slo, Planning planning, bool withFrontier)
    {
        var text = new StringBuilder();
        text.Append(PlanningText.Inputs(planning)).Append('\n');
        text.Append("objective    ").Append(slo.ToString()).Append('\n');
        if (outcome.Best is SimulationResult best)
        {
            PlanningText.Result(text, best, planning);
        }
        else
        {
            text.Append("unsatisfiable: ").Append(outcome.Reason).Append('\n');
        }
        text.Append("search       ").Append(outcome.Evaluations.ToString(CultureInfo.InvariantCulture)).Append(" evaluations in ")
            .Append(PlanningText.Number(outcome.ElapsedMs, 1)).Append(" ms over ")
            .Append(outcome.Searches.Count.ToString(CultureInfo.InvariantCulture)).Append(" (policy, TP) searches\n");
        if (withFrontier)
        {
            string metric = slo.Kind == SloKind.TtftTpot ? "slo metric" : "latency_s";
            var rows = new List<string[]> { new[] { metric, "seq/s", "schedule" } };
            foreach (FrontierPoint p in outcome.Frontier)
                rows.Add([PlanningText.Number(p.Latency, 3), PlanningText.Number(p.ThroughputSeqPerS, 2), p.Schedule.ToString()]);
            text.Append("frontier (").Append(outcome.Frontier.Count.ToString(CultureInfo.InvariantCulture)).Append(" points):\n");
            text.Append(PlanningText.Table(rows, c => c == 2, "  "));
        }
        return text.ToString();
    }
}
