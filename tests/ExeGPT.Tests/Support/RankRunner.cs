using System.Runtime.ExceptionServices;

namespace ExeGPT.Tests.Support;

/// <summary>
/// Runs one body per tensor-parallel rank on its own thread. If any rank fails, the group is aborted so
/// the others leave their collectives instead of waiting for the timeout, and the root cause is rethrown
/// (a peer's EXG_ERR_COMM from the abort is only a consequence).
/// </summary>
public static class RankRunner
{
    public static T[] Run<T>(Comm[] comms, Func<int, T> body) => Run([comms], body);

    /// <summary>Ranks that belong to several groups (one per pipeline stage): groups[g][rank].</summary>
    public static T[] Run<T>(IReadOnlyList<Comm[]> groups, Func<int, T> body)
    {
        var tasks = Enumerable.Range(0, groups[0].Length).Select(rank => Task.Factory.StartNew(() =>
        {
            try
            {
                return body(rank);
            }
            catch
            {
                foreach (var group in groups)
                {
                    group[rank].Abort();
                }

                throw;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        try
        {
            if (!Task.WaitAll(tasks, TimeSpan.FromSeconds(60)))
            {
                foreach (var comm in groups.SelectMany(g => g))
                {
                    comm.Abort();
                }

                Assert.Fail("tensor-parallel ranks did not finish within 60 s");
            }
        }
        catch (AggregateException all)
        {
            var errors = all.Flatten().InnerExceptions;
            var root = errors.FirstOrDefault(e => e is not ExgException { Status: exg_status.EXG_ERR_COMM }) ?? errors[0];
            ExceptionDispatchInfo.Capture(root).Throw();
        }

        return tasks.Select(t => t.Result).ToArray();
    }
}
