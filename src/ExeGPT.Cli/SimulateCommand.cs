using System.CommandLine;
using System.Text;
using ExeGPT.Scheduler.Json;
using ExeGPT.Simulator;

namespace ExeGPT.Cli;

/// <summary><c>exegpt simulate</c>: the simulator's prediction for one schedule, from a file or inline options.</summary>
internal static class SimulateCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var inputs = new PlanningInputs();
        var scheduleFile = new Option<string?>("--schedule", "-s")
        {
            Description = "A schedule JSON file ({\"policy\":\"rra\",\"encoder_batch\":32,...}, or the output of `exegpt schedule --json`).",
        };
        var policy = new Option<string?>("--policy") { Description = "Inline schedule instead of a file: rra, waa-c, waa-m, static or continuous." };
        var batch = new Option<int?>("--batch") { Description = "Inline: encoder batch B_E (the batch size for static)." };
        var nd = new Option<int?>("--nd") { Description = "Inline: decode iterations N_D per encoding (RRA)." };
        var tp = new Option<int?>("--tp") { Description = "Inline: tensor-parallel degree (default 1)." };
        var tpGroups = new Option<int?>("--tp-groups") { Description = "Inline: number of TP groups (default 0)." };
        var micro = new Option<int?>("--micro-batches") { Description = "Inline: decoder micro-batches (WAA; default 0 = automatic)." };
        var devices = new Option<int?>("--devices") { Description = "Inline: devices used (default 0 = the whole cluster)." };
        var mode = new Option<string>("--mode")
        {
            Description = "expected (the scheduler's expected-value model) or event (sampled queries through the same costs).",
            DefaultValueFactory = _ => "expected",
        };
        mode.AcceptOnlyFromAmong("expected", "event");
        var seed = new Option<ulong>("--seed") { Description = "Event mode: seed of the sampled queries.", DefaultValueFactory = _ => 1 };
        var queries = new Option<int>("--queries")
        {
            Description = "Event mode: queries measured after warm-up.",
            DefaultValueFactory = _ => 4000,
        }.AtLeast(1);
        var json = new Option<bool>("--json") { Description = "Print the prediction as JSON." };

        var command = new Command("simulate", "Predict the throughput, latency and memory of one schedule.");
        inputs.AddTo(command);
        foreach (Option option in (Option[])[scheduleFile, policy, batch, nd, tp, tpGroups, micro, devices, mode, seed, queries, json])
            command.Options.Add(option);
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, _ =>
        {
            string? file = parse.GetValue(scheduleFile);
            bool inline = parse.GetValue(policy) is not null || parse.GetValue(batch) is not null || parse.GetValue(nd) is not null
                || parse.GetValue(tp) is not null || parse.GetValue(tpGroups) is not null || parse.GetValue(micro) is not null
                || parse.GetValue(devices) is not null;
            Schedule schedule;
            if (file is not null)
            {
                if (inline)
                    throw new ArgumentException("--schedule cannot be combined with --policy/--batch/--nd/--tp/--tp-groups/--micro-batches/--devices");
                schedule = ScheduleJson.Read(file);
            }
            else if (inline)
            {
                string name = parse.GetValue(policy) ?? throw new ArgumentException("an inline schedule needs --policy (rra, waa-c, waa-m, static or continuous)");
                int b = parse.GetValue(batch) ?? throw new ArgumentException("an inline schedule needs --batch (the encoder batch B_E)");
                schedule = new Schedule(PolicyNames.Parse(name), b, parse.GetValue(nd) ?? 0, parse.GetValue(tp) ?? 1,
                    parse.GetValue(tpGroups) ?? 0, parse.GetValue(micro) ?? 0, parse.GetValue(devices) ?? 0);
            }
            else
                throw new ArgumentException("no schedule: pass --schedule <file.json> or --policy and --batch (with --nd, --tp, ... as needed)");

            SimulationMode simulationMode = parse.GetValue(mode) == "event" ? SimulationMode.Event : SimulationMode.Expected;
            var options = new SimulationOptions(EventQueries: parse.GetValue(queries), Seed: parse.GetValue(seed));
            Planning planning = inputs.Resolve(parse, options);
            SimulationResult result = XSimulator.Simulate(planning.Context, schedule, simulationMode);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(ResultJson.ToJson(result, indented: true));
            }
            else
            {
                var text = new StringBuilder();
                text.Append(PlanningText.Inputs(planning)).Append('\n');
                text.Append("mode         ").Append(simulationMode == SimulationMode.Event
                    ? $"event ({parse.GetValue(queries)} queries, seed {parse.GetValue(seed)})"
                    : "expected").Append('\n');
                PlanningText.Result(text, result, planning);
                Console.Out.Write(text.ToString());
            }
            return 0;
        }, needsEngine: false));
        return command;
    }
}
