using System.Diagnostics;
using ExeGPT.Native;
using ExeGPT.Simulator;

namespace ExeGPT.Runner;

public sealed partial class XRunner
{
    internal sealed partial class RunSession
    {
        // Rows between RRA phases, regrouped into micro-batches for the next phase.
        private RequestState?[] _rowRequest = [];
        private int[] _rowToken = [];
        private int[][] _rowSlots = [];
        private int _rowCount;
        private int _parked, _expectParked;

        /// <summary>RRA (and static batching): encode a batch, then N_D decode iterations of the running batch
        /// (static: until the batch's longest member is done), repeat.</summary>
        private void ExecuteRra(bool staticBatching)
        {
            XRunner r = _runner;
            Schedule s = r.Schedule;
            int depth = Depth;
            int be = _encoderBatch;
            int nd = staticBatching ? int.MaxValue : Math.Max(1, s.DecodeIterations);
            // Little's law bounds the running batch at B_E·(E[steps]/N_D + 1); leave room for the spread.
            int slots = staticBatching ? be
                : Math.Min(_pending.IsCompleted ? Math.Max(1, Volatile.Read(ref _added)) : int.MaxValue, (int)Math.Ceiling(1.5 * be * (MeanSteps / nd + 1)) + 2 * be);
            StartStages(r._stages, slots, OnPipelineCompleted);
            int maxBatch = staticBatching ? be : Math.Min(MaxEncoderBatch, slots);
            var prefill = new MicroBatch[depth];
            var decode = new MicroBatch[depth];
            for (int i = 0; i < depth; i++)
            {
                prefill[i] = NewMicroBatch(r._stages, maxBatch, maxBatch * _maxPrompt);
                decode[i] = NewMicroBatch(r._stages, slots, slots);
            }
            _rowRequest = new RequestState?[slots];
            _rowToken = new int[slots];
            _rowSlots = new int[depth][];
            for (int st = 0; st < depth; st++)
                _rowSlots[st] = new int[slots];
            int[] map = new int[slots], check = new int[slots];
            var batch = new List<RequestState>(maxBatch);
            _rowCount = 0;

            while (true)
            {
                if (!staticBatching)
                    _adjuster.ObserveDecodeBatch(_rowCount);
                int room = Math.Min(maxBatch, slots - _rowCount);
                bool got = room > 0 && _pending.Take(_adjuster, staticBatching ? be : 0, room, batch, DropCancelled, wait: _rowCount == 0);
                if (!got && _rowCount == 0)
                    break;
                if (got)
                {
                    // Encode: one micro-batch per stage (fewer when the batch is smaller), pipelined.
                    int m = Math.Min(batch.Count, depth);
                    MarkStarted(batch);
                    for (int k = 0; k < m; k++)
                    {
                        FillPrefill(prefill[k], batch, k * batch.Count / m, (k + 1) * batch.Count / m, _ => null);
                        prefill[k].KeepFinished = staticBatching;
                        prefill[k].PassesLeft = 0;
                    }
                    RunAndWait(prefill.AsSpan(0, m));
                    for (int k = 0; k < m; k++)
                        Gather(prefill[k]);
                }
                if (_rowCount == 0)
                    continue;
                if (!staticBatching && ShouldCompact())
                    Compact(map, check);
                // Decode: the running batch in micro-batches (one per stage) that circulate on their own.
                int parts = Math.Min(_rowCount, depth);
                for (int k = 0; k < parts; k++)
                {
                    MicroBatch mb = decode[k];
                    mb.Rows = 0;
                    mb.Prefill = false;
                    mb.KeepFinished = staticBatching;
                    mb.PassesLeft = nd;
                    for (int row = k * _rowCount / parts; row < (k + 1) * _rowCount / parts; row++)
                        mb.AddRow(_rowRequest[row], _rowToken[row], SlotsOf(row));
                    mb.Tokens = mb.Rows;
                }
                _rowCount = 0;
                RunAndWait(decode.AsSpan(0, parts));
                for (int k = 0; k < parts; k++)
                    Gather(decode[k]);
                if (staticBatching)
                    EndStaticBatch(batch);
            }
        }

        /// <summary>The batch is done: its members return together, and its slots are released.</summary>
        private void EndStaticBatch(List<RequestState> batch)
        {
            long now = Stopwatch.GetTimestamp();
            foreach (RequestState q in batch)
                if (!q.IsFinished)
                    _runner.FinishRequest(q, now);
            for (int row = 0; row < _rowCount; row++)
                for (int st = 0; st < Depth; st++)
                    _runner._stages[st].FreeSlot(_rowSlots[st][row]);
            _rowCount = 0;
        }

        private ReadOnlySpan<int> SlotsOf(int row)
        {
            Span<int> slots = _slotScratch.AsSpan(0, Depth);
            for (int st = 0; st < slots.Length; st++)
                slots[st] = _rowSlots[st][row];
            return slots;
        }

        private readonly int[] _slotScratch = new int[64];

        /// <summary>Submits micro-batches to the first stage and waits until every one has parked.</summary>
        private void RunAndWait(ReadOnlySpan<MicroBatch> batches)
        {
            lock (_runner._signal)
            {
                _parked = 0;
                _expectParked = batches.Length;
            }
            foreach (MicroBatch mb in batches)
                _runner._stages[0].Inbox.Add(mb);
            _runner.WaitUntil(AllParked);
        }

        private bool AllParked() => _parked >= _expectParked;

        /// <summary>Last stage: sample, then circulate again while the phase lasts, else park.</summary>
        private void OnPipelineCompleted(MicroBatch mb)
        {
            int live = _runner.SampleRows(mb, _runner._stages[^1]);
            if (--mb.PassesLeft > 0 && live > 0 && _runner._fault is null)
            {
                _runner._stages[0].Inbox.Add(mb);
                return;
            }
            lock (_runner._signal)
            {
                _parked++;
                Monitor.PulseAll(_runner._signal);
            }
        }

        /// <summary>Takes a parked micro-batch's rows back (all stages idle): releases the slots its finished rows
        /// left on the other stages, and keeps the rest for the next phase.</summary>
        private void Gather(MicroBatch mb)
        {
            FlushPendingFrees(mb);
            for (int row = 0; row < mb.Rows; row++)
            {
                int at = _rowCount++;
                _rowRequest[at] = mb.Request[row];
                _rowToken[at] = mb.TokenIds[row];
                for (int st = 0; st < Depth; st++)
                    _rowSlots[st][at] = mb.Slots(st)[row];
            }
            mb.Rows = 0;
        }

        /// <summary>Releases the slots a parked micro-batch's finished rows left on the stages (all stages idle).</summary>
        private void FlushPendingFrees(MicroBatch mb)
        {
            for (int st = 0; st < Depth; st++)
                foreach (int slot in mb.TakePendingFrees(st))
                    _runner._stages[st].FreeSlot(slot);
        }

        /// <summary>Compacts once finished queries leave at least half of the occupied slot range empty.</summary>
        private bool ShouldCompact()
        {
            int highest = -1;
            for (int row = 0; row < _rowCount; row++)
                highest = Math.Max(highest, _rowSlots[0][row]);
            return (highest + 1 - _rowCount) * 2 >= highest + 1 && highest >= 0;
        }

        /// <summary>Early termination leaves holes; move live slots down on every shard (all idle) and renumber.</summary>
        private void Compact(int[] map, int[] check)
        {
            for (int st = 0; st < Depth; st++)
            {
                StageWorker stage = _runner._stages[st];
                for (int rank = 0; rank < stage.Tp; rank++)
                {
                    Span<int> into = rank == 0 ? map : check;
                    int live = stage.Cache(rank).Compact(into);
                    if (live != _rowCount || (rank > 0 && !check.AsSpan().SequenceEqual(map)))
                        throw new InvalidOperationException($"stage {st}: KV caches disagree after compaction ({live} live, expected {_rowCount})");
                }
                for (int row = 0; row < _rowCount; row++)
                    _rowSlots[st][row] = map[_rowSlots[st][row]];
            }
        }
    }
}
