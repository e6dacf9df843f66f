namespace ExeGPT.Runner;

public sealed partial class XRunner
{
    internal sealed partial class RunSession
    {
        /// <summary>Continuous batching (ORCA / vLLM iteration mode) on the baselines' layout: every iteration
        /// decodes the running batch and admits at most one new query, whose prompt is prefilled in the same
        /// engine call (a ragged batch: running rows append one token, the new row its prompt).</summary>
        private void ExecuteContinuous()
        {
            XRunner r = _runner;
            int cap = _encoderBatch;
            StartStages(r._stages, cap, OnPipelineCompleted);
            MicroBatch mb = NewMicroBatch(r._stages, cap, cap + _maxPrompt);
            var one = new List<RequestState>(1);
            var single = new MicroBatch[] { mb };
            while (true)
            {
                bool admitted = mb.Rows < cap && _pending.Take(_adjuster, 1, 1, one, DropCancelled, wait: mb.Rows == 0);
                if (!admitted && mb.Rows == 0)
                    break;
                // Running rows append one token each; their ids sit at [0, rows) already.
                for (int row = 0; row < mb.Rows; row++)
                    mb.SeqLens[row] = 1;
                int tokens = mb.Rows;
                if (admitted)
                {
                    MarkStarted(one);
                    RequestState q = one[0];
                    int[] prompt = q.Request.Prompt;
                    mb.AddRow(q, -1, prompt.Length, null);
                    prompt.CopyTo(mb.TokenIds[tokens..]);
                    tokens += prompt.Length;
                }
                mb.Tokens = tokens;
                mb.Prefill = true;
                mb.KeepFinished = false;
                mb.PassesLeft = 1;
                RunAndWait(single);
                FlushPendingFrees(mb);
            }
        }
    }
}
