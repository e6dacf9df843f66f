using ExeGPT.Native;

namespace ExeGPT.Runner;

public sealed partial class XRunner
{
    internal sealed partial class RunSession
    {
        private readonly object _decoderGate = new();
        private readonly Queue<MicroBatch> _arrivals = new();     // encoded micro-batches waiting to merge
        private readonly Stack<MicroBatch> _parkedDecoders = new();
        private readonly Stack<MicroBatch> _freeEncoders = new();
        private int _decoderRows, _decoderCapacity, _idleDecoders;
        private (int Stage, int Rank, KvPart Part)[] _handOffParts = [];

        /// <summary>WAA: the encoder devices encode batches (paced by how many encoded batches may wait to merge) and
        /// stage each query's KV in a page-locked host buffer; the decoder micro-batches circulate on their own and
        /// take waiting batches in as they pass the end of the pipeline.</summary>
        private void ExecuteWaa()
        {
            XRunner r = _runner;
            StageWorker[] encoders = r._encoders, decoders = r._stages;
            int be = _encoderBatch, maxBatch = MaxEncoderBatch;
            _decoderCapacity = r._options.DecodeCapacity > 0 ? r._options.DecodeCapacity : (int)Math.Ceiling(be * (MeanSteps + 1));
            // An encoded batch may wait while the next is encoded: the encoders never idle for the decoders' sake
            // unless two batches are already waiting (back-pressure).
            int encoderMicroBatches = 2 * encoders.Length;
            int encoderSlots = encoderMicroBatches * maxBatch;
            // Room for the running rows, one merging batch, and the rows that finished but whose slots on the earlier
            // stages are released only when their micro-batch next passes there (with one stage there are none).
            int decoderSlots = (decoders.Length > 1 ? 2 : 1) * _decoderCapacity + maxBatch;
            PlanHandOff(encoders, decoders);
            int importers = decoders.Sum(d => d.Tp);
            ulong stagingBytes = StagingBytes();
            r._staging = new StagingPool(encoderSlots + maxBatch, () => new StagedKv(r._devices[0], stagingBytes, _handOffParts.Length * encoders.Length));
            foreach (StageWorker d in decoders)
            {
                d.Staging = r._staging;
                d.ImportsStagedKv = true;
            }
            foreach (StageWorker e in encoders)
                e.AfterStep = ExportAndRelease;
            StartStages(encoders, encoderSlots, OnEncoded);
            StartStages(decoders, decoderSlots, OnDecoded);
            for (int i = 0; i < encoderMicroBatches; i++)
                _freeEncoders.Push(NewMicroBatch(encoders, maxBatch, maxBatch * _maxPrompt));
            int micro = r.Schedule.MicroBatches > 0 ? r.Schedule.MicroBatches : decoders.Length;
            for (int i = 0; i < micro; i++)
                _parkedDecoders.Push(NewMicroBatch(decoders, decoderSlots, decoderSlots));
            _idleDecoders = micro;

            var batch = new List<RequestState>(maxBatch);
            var parts = new MicroBatch[encoders.Length];
            while (true)
            {
                _adjuster.ObserveDecodeBatch(Volatile.Read(ref _decoderRows));
                if (!_pending.Take(_adjuster, 0, maxBatch, batch, DropCancelled))
                    break;
                int m = Math.Min(batch.Count, encoders.Length);
                r.WaitUntil(() => _freeEncoders.Count >= m);
                lock (r._signal)   // only this thread pops: the m free ones stay free
                    for (int k = 0; k < m; k++)
                        parts[k] = _freeEncoders.Pop();
                MarkStarted(batch);
                for (int k = 0; k < m; k++)
                {
                    FillPrefill(parts[k], batch, k * batch.Count / m, (k + 1) * batch.Count / m, _ =>
                    {
                        StagedKv staged = r._staging.Take();
                        staged.Reset(importers);
                        return staged;
                    });
                    encoders[0].Inbox.Add(parts[k]);
                }
            }
            // Done when every query finished and every micro-batch is back (no stage thread still holds one).
            r.WaitUntil(() => AllFinished() && Volatile.Read(ref _idleDecoders) == micro && _freeEncoders.Count == encoderMicroBatches);
        }

        /// <summary>The KV each decoder (stage, rank) holds: its layers and its rank's heads. An encoder stage
        /// exports the share of each that it has.</summary>
        private void PlanHandOff(StageWorker[] encoders, StageWorker[] decoders)
        {
            int heads = _runner._config.num_heads;
            var parts = new List<(int, int, KvPart)>();
            foreach (StageWorker d in decoders)
                for (int rank = 0; rank < d.Tp; rank++)
                    parts.Add((d.Index, rank, new KvPart(d.Plan.LayerBegin, d.Plan.LayerEnd, rank * heads / d.Tp, (rank + 1) * heads / d.Tp)));
            _handOffParts = [.. parts];
        }

        /// <summary>Bytes one sequence's staged KV can take: every layer's keys and values at the longest prompt, and a
        /// header per part.</summary>
        private ulong StagingBytes()
        {
            var c = _runner._config;
            return 2UL * (ulong)c.num_layers * (ulong)c.hidden_size * (ulong)_maxPrompt * sizeof(float)
                + 4096UL * (ulong)(_handOffParts.Length * _runner._encoders.Length);
        }

        /// <summary>Encoder stage thread, after its prefill: export each query's KV for the decoders, free the slot.</summary>
        private void ExportAndRelease(StageWorker stage, MicroBatch mb)
        {
            KvCache cache = stage.Cache(0);
            KvPart have = cache.Whole;
            Span<int> slots = mb.Slots(stage.Index);
            for (int row = 0; row < mb.Rows; row++)
            {
                StagedKv staged = mb.Staged[row]!;
                foreach (var (dStage, rank, part) in _handOffParts)
                {
                    KvPart mine = have.Intersect(part);
                    if (!mine.IsEmpty)
                        staged.Append(cache, slots[row], mine, dStage, rank);
                }
                stage.FreeSlot(slots[row]);
                slots[row] = -1;
            }
        }

        /// <summary>Last encoder stage: first tokens sampled; the batch waits to merge into a decoder micro-batch (an
        /// idle one takes it at once).</summary>
        private void OnEncoded(MicroBatch mb)
        {
            _runner.SampleRows(mb, _runner._encoders[^1]);
            MicroBatch? start = null;
            lock (_decoderGate)
            {
                if (mb.Rows > 0)
                    _arrivals.Enqueue(mb);
                else
                    ReturnEncoder(mb);
                if (_arrivals.Count > 0 && _parkedDecoders.Count > 0)
                {
                    start = _parkedDecoders.Pop();
                    Merge(start);
                    if (start.Rows == 0)
                    {
                        _parkedDecoders.Push(start);
                        start = null;
                    }
                }
                Volatile.Write(ref _idleDecoders, _parkedDecoders.Count);
            }
            if (start is not null)
                _runner._stages[0].Inbox.Add(start);
            _runner.Signal();
        }

        /// <summary>Last decoder stage: sample, take waiting batches in, go round again (or park when empty).</summary>
        private void OnDecoded(MicroBatch mb)
        {
            int before = mb.Rows;
            _runner.SampleRows(mb, _runner._stages[^1]);
            bool again;
            lock (_decoderGate)
            {
                _decoderRows -= before - mb.Rows;
                Merge(mb);
                again = mb.Rows > 0 && _runner._fault is null;
                if (!again)
                    _parkedDecoders.Push(mb);
                Volatile.Write(ref _idleDecoders, _parkedDecoders.Count);
            }
            if (again)
                _runner._stages[0].Inbox.Add(mb);
            _runner.Signal();
        }

        /// <summary>Moves waiting encoded batches into <paramref name="into"/> while the decoders have room (an empty
        /// decoder always takes one, however large).</summary>
        private void Merge(MicroBatch into)
        {
            while (_arrivals.Count > 0)
            {
                MicroBatch encoded = _arrivals.Peek();
                if (_decoderRows > 0 && _decoderRows + encoded.Rows > _decoderCapacity)
                    return;
                _arrivals.Dequeue();
                for (int row = 0; row < encoded.Rows; row++)
                    into.AddRow(encoded.Request[row]!, encoded.TokenIds[row], 0, encoded.Staged[row]);
                into.Tokens = into.Rows;
                into.Prefill = false;
                into.KeepFinished = false;
                _decoderRows += encoded.Rows;
                encoded.Rows = 0;
                ReturnEncoder(encoded);
            }
        }

        private void ReturnEncoder(MicroBatch mb)
        {
            for (int row = 0; row < mb.RowCapacity; row++)
                mb.Staged[row] = null;
            lock (_runner._signal)
            {
                _freeEncoders.Push(mb);
                Monitor.PulseAll(_runner._signal);
            }
        }
    }
}
