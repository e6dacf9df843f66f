using System.Diagnostics;
using ExeGPT.Native;
using ExeGPT.Simulator;

namespace ExeGPT.Runner;

public sealed partial class XRunner
{
    /// <summary>One run: its requests, queue, micro-batches and caches, driven by the schedule's policy. An offline run
    /// records every request for its <see cref="RunResult"/>; an online session (the engine's, open for its whole
    /// life) records none, so what it holds ends with each request.</summary>
    internal sealed partial class RunSession
    {
        private readonly XRunner _runner;
        private readonly int _maxPrompt, _maxNew;
        private readonly IRunObserver? _observer;
        private readonly long _origin = Stopwatch.GetTimestamp();
        private readonly object _gate = new();
        private readonly List<RequestState>? _requests;                 // null online
        private readonly PendingQueue _pending = new();
        private readonly WorkloadAdjuster _adjuster;
        private readonly List<EncoderBatchRecord>? _encoderBatches;     // null online
        private int _encoderBatchCount;
        private readonly List<MicroBatch> _owned = [];
        private readonly int _encoderBatch;

        public RunSession(XRunner runner, int maxPrompt, int maxNew, double meanSteps, IRunObserver? observer, bool record)
        {
            _runner = runner;
            if (record)
            {
                _requests = [];
                _encoderBatches = [];
            }
            _maxPrompt = maxPrompt;
            _maxNew = maxNew;
            _observer = observer;
            MeanSteps = meanSteps;
            Schedule s = runner.Schedule;
            _encoderBatch = Math.Max(1, s.EncoderBatch);
            double decodeTarget = s.Policy switch
            {
                Policy.Rra => _encoderBatch * (meanSteps / Math.Max(1, s.DecodeIterations) + 0.5),
                Policy.WaaC or Policy.WaaM => _encoderBatch * meanSteps,
                _ => 0,
            };
            _adjuster = new WorkloadAdjuster(runner._options.Adjustment, _encoderBatch, 0, decodeTarget);
        }

        private double MeanSteps { get; }

        private int Depth => _runner._stages.Length;

        private int SeqLen => _maxPrompt + _maxNew - 1;

        private int _added;
        private double _inputSum;
        private long _ended;

        /// <summary>Queues a request (any thread; an online session takes them while it runs). It must fit the
        /// session's limits: the caches were sized for them. <paramref name="observer"/> (the engine API: one per
        /// request, so no index lookup races the first token) replaces the session's observer for this request.</summary>
        public RequestState Add(RunRequest request, IRunObserver? observer = null)
        {
            RequestState state;
            lock (_gate)
            {
                int index = _added;
                _runner.Validate(request, index);
                if (request.Prompt.Length > _maxPrompt || request.MaxNewTokens > _maxNew)
                    throw new ArgumentException($"request {index}: {request.Prompt.Length} prompt / {request.MaxNewTokens} new tokens exceed " +
                        $"this session's limits of {_maxPrompt} / {_maxNew}");
                state = new RequestState(index, request, _runner._options.SamplingSeed, observer ?? _observer, Stopwatch.GetTimestamp());
                _requests?.Add(state);
                _inputSum += request.Prompt.Length;
                // Rule 1's average workload follows the inputs seen so far (offline: all of them, before the run).
                _adjuster.MeanInput = _inputSum / (index + 1);
                Volatile.Write(ref _added, index + 1);
            }
            _pending.Add(state);
            return state;
        }

        /// <summary>Cancels one request: it leaves the queue, or its row leaves the batch at its next pass (freeing
        /// its KV slots), and finishes with the tokens it has.</summary>
        public void Cancel(RequestState request)
        {
            request.Cancel();
            _runner.Signal();
        }

        public void Complete() => _pending.Complete();

        /// <summary>Online sessions: how many 50 ms waits a batch short of B_E spends collecting arrivals.</summary>
        public void CollectArrivals(int waits) => _pending.ShortBatchWaits = waits;

        /// <summary>Fails everything still waiting (a stage failed).</summary>
        public void Abort() => _pending.Close();

        /// <summary>Runs the policy loop until every request is done and no more can come. Cancelling the token
        /// cancels every recorded request; an online session's requests are cancelled one by one (<see cref="Cancel"/>).</summary>
        public void Execute(CancellationToken cancellation)
        {
            XRunner r = _runner;
            ObjectDisposedException.ThrowIf(r._disposed, r);
            r.ThrowIfFaulted();
            if (Interlocked.Exchange(ref r._busy, 1) != 0)
                throw new InvalidOperationException("XRunner runs one run at a time.");
            r._activeSession = this;
            r._decodeRows = r._decodeSteps = 0;
            r._finishedCount = 0;
            using CancellationTokenRegistration registration = cancellation.Register(CancelAll);
            try
            {
                Policy policy = r.Schedule.Policy;
                if (policy is Policy.WaaC or Policy.WaaM)
                    ExecuteWaa();
                else if (policy == Policy.Continuous)
                    ExecuteContinuous();
                else
                    ExecuteRra(staticBatching: policy == Policy.Static);
            }
            catch
            {
                _pending.Close();
                r._staging?.Close();
                // Stage threads may still be inside a step on these buffers: stop and join them before anything is
                // freed (the runner cannot run again after a failure anyway).
                foreach (StageWorker stage in r._stages.Concat(r._encoders))
                {
                    stage.Abort();
                    stage.Stop();
                }
                // What the controller tripped over (a closed pool, a cache left inconsistent) only echoes the stage's
                // failure: report the stage's own.
                r.ThrowIfFaulted();
                throw;
            }
            finally
            {
                r._activeSession = null;
                foreach (MicroBatch mb in _owned)
                    mb.Dispose();
                r._staging?.Dispose();
                r._staging = null;
                Volatile.Write(ref r._busy, 0);
            }
            _ended = Stopwatch.GetTimestamp();
            cancellation.ThrowIfCancellationRequested();
        }

        /// <summary>The recorded run, after <see cref="Execute"/>.</summary>
        public RunResult Result()
        {
            if (_requests is null || _encoderBatches is null)
                throw new InvalidOperationException("An online session records no requests.");
            XRunner r = _runner;
            double wall = (double)(_ended - _origin) / Stopwatch.Frequency;
            double meanRows = r._decodeSteps > 0 ? (double)r._decodeRows / r._decodeSteps : 0;
            lock (_gate)
                return new RunResult(r._layout, [.. _requests.Select(q => q.ToRecord(_origin))], [.. _encoderBatches], meanRows, wall);
        }

        private void CancelAll()
        {
            lock (_gate)
                foreach (RequestState request in _requests ?? [])
                    request.Cancel();
            _runner.Signal();
        }

        private void DropCancelled(RequestState request)
        {
            long now = Stopwatch.GetTimestamp();
            request.Started = now;   // never encoded: it ends where it would have started
            _runner.FinishRequest(request, now);
        }

        /// <summary>Every request added so far is done and no more can come.</summary>
        private bool AllFinished() => _pending.IsCompleted && Volatile.Read(ref _runner._finishedCount) >= Volatile.Read(ref _added);

        private MicroBatch NewMicroBatch(IReadOnlyList<StageWorker> stages, int rows, int tokens)
        {
            int maxTp = stages.Max(s => s.Tp);
            var mb = new MicroBatch(_runner._devices[0], stages.Count, maxTp, _runner._config.hidden_size, _runner._config.vocab_size);
            _owned.Add(mb);
            mb.EnsureCapacity(rows, tokens);
            return mb;
        }

        private void StartStages(IReadOnlyList<StageWorker> stages, int slots, Action<MicroBatch> completed)
        {
            foreach (StageWorker stage in stages)
            {
                stage.CreateCaches(slots, SeqLen);
                stage.StartOnce();
            }
            stages[^1].Completed = completed;
        }

        private void MarkStarted(List<RequestState> batch)
        {
            long now = Stopwatch.GetTimestamp();
            int tokens = 0;
            foreach (RequestState q in batch)
            {
                q.EncoderBatch = _encoderBatchCount;
                tokens += q.Request.Prompt.Length;
            }
            _encoderBatchCount++;
            _encoderBatches?.Add(new EncoderBatchRecord((double)(now - _origin) / Stopwatch.Frequency, batch.Count, tokens));
        }

        /// <summary>Largest encoder batch the adjuster can form (its nudge and band stay well inside 2 × B_E).</summary>
        private int MaxEncoderBatch => 2 * _encoderBatch + 2;
    }
}
