using ExeGPT.Core;
using ExeGPT.Core.Profiles;

namespace ExeGPT.Simulator;

/// <summary>The paper's XSimulator: predicts throughput, latency and memory of one schedule.</summary>
public static class XSimulator
{
    /// <summary>The TP degree the baselines use on the whole cluster (FasterTransformer's layout: the largest
    /// degree dividing the heads, the devices and a node).</summary>
    public static int BaselineTensorParallel(SimulationContext ctx) => BaselineModels.FtTensorParallel(ctx, ctx.Cluster.TotalDevices);

    /// <summary>The stages <paramref name="schedule"/> runs on, as <see cref="Simulate"/> times them (the layer split
    /// follows each stage's speed at the schedule's expected batch). Throws <see cref="SpecException"/> when the
    /// schedule is malformed or cannot be laid out.</summary>
    public static ExecutionLayout Layout(SimulationContext ctx, Schedule schedule)
    {
        int devices = Validation.Check(ctx, schedule);
        string? reason;
        switch (schedule.Policy)
        {
            case Policy.Rra:
            {
                RraModel.Plan? plan = RraModel.PlanFor(ctx, schedule, devices, out reason);
                if (plan is not null)
                    return new ExecutionLayout(schedule, ExecutionLayout.Of(plan.Pipeline, prefill: true), []);
                break;
            }
            case Policy.WaaC or Policy.WaaM:
            {
                WaaModel.Plan? plan = WaaModel.PlanFor(ctx, schedule, devices, WaaModel.Split(ctx, schedule, devices), out reason);
                if (plan is not null)
                    return new ExecutionLayout(schedule, ExecutionLayout.Of(plan.Decoder, prefill: false),
                        ExecutionLayout.Of(plan.Encoder, prefill: true));
                break;
            }
            default:
            {
                RraModel.Plan? plan = BaselineModels.FtLayout(ctx, schedule, devices, out reason);
                if (plan is not null)
                    return new ExecutionLayout(schedule, ExecutionLayout.Of(plan.Pipeline, prefill: true), []);
                break;
            }
        }
        throw new SpecException($"schedule {schedule} cannot be laid out: {reason}");
    }

    /// <summary>Simulates <paramref name="schedule"/>. A malformed schedule (bad TP degree, zero batch, too many
    /// devices) throws <see cref="SpecException"/>; one that cannot run (memory, layout, outside the profile)
    /// returns a result with <see cref="SimulationResult.Feasible"/> false and the reason — with throughput
    /// and latency still predicted when only memory is short, so a search can bound around it.</summary>
    public static SimulationResult Simulate(SimulationContext ctx, Schedule schedule, SimulationMode mode = SimulationMode.Expected)
    {
        int devices = Validation.Check(ctx, schedule);
        try
        {
            SimulationResult expected = schedule.Policy switch
            {
                Policy.Rra => RraModel.Expected(ctx, schedule, devices),
                Policy.WaaC or Policy.WaaM => WaaModel.Expected(ctx, schedule, devices),
                Policy.Static => BaselineModels.StaticExpected(ctx, schedule, devices),
                _ => BaselineModels.ContinuousExpected(ctx, schedule, devices),
            };
            if (mode == SimulationMode.Expected || expected.Devices.Count == 0)
                return expected;
            return schedule.Policy switch
            {
                Policy.Rra => EventSimulator.Rra(ctx, schedule, devices, expected),
                Policy.WaaC or Policy.WaaM => EventSimulator.Waa(ctx, schedule, devices, expected),
                Policy.Static => EventSimulator.Static(ctx, schedule, devices, expected),
                _ => EventSimulator.Continuous(ctx, schedule, devices, expected),
            };
        }
        catch (ProfileRangeException e)
        {
            return SimulationResult.Infeasible(schedule, mode, $"outside the profile: {e.Message}");
        }
    }
}
