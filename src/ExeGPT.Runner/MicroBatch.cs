using ExeGPT.Native;

namespace ExeGPT.Runner;

/// <summary>
/// A group of sequences that moves through a pipeline as one unit: the zero-copy host path. Slots, lengths,
/// token ids, the hidden states between stages and the logits live in native host buffers (page-locked on
/// backends that can), which the engine reads and writes in place; the stage threads hand the whole object
/// from one to the next, so a boundary copies nothing through managed memory. Exactly one thread owns a
/// micro-batch at a time (the queue hands it over), so its rows need no lock.
/// </summary>
internal sealed class MicroBatch : IDisposable
{
    private readonly Backend _backend;
    private readonly int _stages, _maxTp, _hidden, _vocab;
    private HostBuffer[] _slots = [];        // [stage]: each stage's own KV slot of every row
    private HostBuffer? _seqLens, _tokenIds;
    private HostBuffer?[,] _hiddenOut = new HostBuffer?[0, 0];  // [parity, rank]
    private HostBuffer?[] _logits = [];      // [rank]
    private readonly int[][] _pendingFree;   // [stage]: slots to free when the batch next reaches the stage
    private readonly int[] _pendingCount;

    public MicroBatch(Backend backend, int stages, int maxTp, int hidden, int vocab)
    {
        _backend = backend;
        _stages = stages;
        _maxTp = maxTp;
        _hidden = hidden;
        _vocab = vocab;
        _pendingFree = new int[stages][];
        _pendingCount = new int[stages];
        for (int s = 0; s < stages; s++)
            _pendingFree[s] = [];
        Request = [];
        Staged = [];
    }

    /// <summary>This pass prefills (each row's <see cref="SeqLens"/> tokens) rather than decodes one token.</summary>
    public bool Prefill { get; set; }

    /// <summary>Live rows.</summary>
    public int Rows { get; set; }

    /// <summary>Tokens this pass processes (prefill: Σ lengths; decode: rows).</summary>
    public int Tokens { get; set; }

    /// <summary>Decode passes still to run before the batch parks (RRA: the rest of the phase).</summary>
    public int PassesLeft { get; set; }

    /// <summary>Keep finished rows decoding (static batching pads them until the batch's longest is done).</summary>
    public bool KeepFinished { get; set; }

    /// <summary>The request of each row; null for a finished row kept as padding (static batching).</summary>
    public RequestState?[] Request { get; private set; }

    /// <summary>KV waiting in host memory for each row (WAA hand-off); imported when the row first reaches a
    /// decoder stage.</summary>
    public StagedKv?[] Staged { get; private set; }

    /// <summary>The last stage kept this pass's logits on the device (CUDA, every row sampling alike): they are sampled
    /// there with <see cref="SharedSampling"/> into <see cref="Sampled"/> instead of crossing to the host.</summary>
    public bool LogitsOnDevice { get; set; }

    /// <summary>The one sampling rule of every row when <see cref="LogitsOnDevice"/>.</summary>
    public SamplingOptions SharedSampling { get; set; }

    /// <summary>Each row's stream while the device samples (gathered from and scattered back to its request).</summary>
    public ulong[] Rng { get; private set; } = [];

    /// <summary>Each row's token sampled on the device.</summary>
    public int[] Sampled { get; private set; } = [];

    public int RowCapacity { get; private set; }

    public int TokenCapacity { get; private set; }

    public Span<int> Slots(int stage) => _slots[stage].AsSpan<int>()[..RowCapacity];

    public Span<int> SeqLens => _seqLens!.AsSpan<int>()[..RowCapacity];

    public Span<int> TokenIds => _tokenIds!.AsSpan<int>()[..TokenCapacity];

    public Span<float> HiddenOut(int stage, int rank) => _hiddenOut[stage & 1, rank]!.AsSpan<float>()[..(Tokens * _hidden)];

    public ReadOnlySpan<float> HiddenIn(int stage) => _hiddenOut[(stage - 1) & 1, 0]!.AsSpan<float>()[..(Tokens * _hidden)];

    public Span<float> Logits(int rank) => _logits[rank]!.AsSpan<float>()[..(Rows * _vocab)];

    /// <summary>Grows the buffers to hold <paramref name="rows"/> rows and <paramref name="tokens"/> tokens,
    /// keeping the current rows (never in the steady state: capacities are set before a run).</summary>
    public void EnsureCapacity(int rows, int tokens)
    {
        if (rows <= RowCapacity && tokens <= TokenCapacity)
            return;
        rows = Math.Max(rows, RowCapacity);
        tokens = Math.Max(Math.Max(tokens, TokenCapacity), rows);
        var slots = new HostBuffer[_stages];
        for (int s = 0; s < _stages; s++)
        {
            slots[s] = HostBuffer.Allocate(_backend, Bytes<int>(rows));
            if (RowCapacity > 0)
                _slots[s].AsSpan<int>()[..Rows].CopyTo(slots[s].AsSpan<int>());
            _slots.ElementAtOrDefault(s)?.Dispose();
        }
        _slots = slots;
        HostBuffer seqLens = HostBuffer.Allocate(_backend, Bytes<int>(rows));
        HostBuffer tokenIds = HostBuffer.Allocate(_backend, Bytes<int>(tokens));
        if (RowCapacity > 0)
        {
            _seqLens!.AsSpan<int>()[..Rows].CopyTo(seqLens.AsSpan<int>());
            _tokenIds!.AsSpan<int>()[..Math.Min(Tokens, TokenCapacity)].CopyTo(tokenIds.AsSpan<int>());
        }
        _seqLens?.Dispose();
        _tokenIds?.Dispose();
        _seqLens = seqLens;
        _tokenIds = tokenIds;
        foreach (HostBuffer? b in _hiddenOut) b?.Dispose();
        foreach (HostBuffer? b in _logits) b?.Dispose();
        _hiddenOut = new HostBuffer?[2, _maxTp];
        if (_stages > 1)
            for (int p = 0; p < 2; p++)
                for (int r = 0; r < _maxTp; r++)
                    _hiddenOut[p, r] = HostBuffer.Allocate(_backend, Bytes<float>((long)tokens * _hidden));
        _logits = new HostBuffer?[_maxTp];
        for (int r = 0; r < _maxTp; r++)
            _logits[r] = HostBuffer.Allocate(_backend, Bytes<float>((long)rows * _vocab));
        var request = new RequestState?[rows];
        Request.AsSpan(0, Rows).CopyTo(request);
        Request = request;
        var staged = new StagedKv?[rows];
        Staged.AsSpan(0, Rows).CopyTo(staged);
        Staged = staged;
        Rng = new ulong[rows];
        Sampled = new int[rows];
        for (int s = 0; s < _stages; s++)
            Array.Resize(ref _pendingFree[s], rows * 2);
        RowCapacity = rows;
        TokenCapacity = tokens;
    }

    /// <summary>The sampling rule every live row shares (true with greedy when no row has a request: padding only), or
    /// false when rows differ and each must be sampled on its own.</summary>
    public bool TryGetSharedSampling(out SamplingOptions options)
    {
        options = new SamplingOptions(Greedy: true);
        bool found = false;
        for (int row = 0; row < Rows; row++)
        {
            if (Request[row] is not { } request)
                continue;
            if (!found)
            {
                options = request.Sampling;
                found = true;
            }
            else if (request.Sampling != options)
                return false;
        }
        return true;
    }

    /// <summary>Appends a row with no KV slot yet on any stage (each stage allocates one on its first visit).</summary>
    public void AddRow(RequestState request, int token, int seqLen, StagedKv? staged)
    {
        int row = Rows++;
        Request[row] = request;
        Staged[row] = staged;
        SeqLens[row] = seqLen;
        for (int s = 0; s < _stages; s++)
            Slots(s)[row] = -1;
        if (token >= 0)
            TokenIds[row] = token;
    }

    /// <summary>Moves row <paramref name="from"/> to <paramref name="to"/> (&lt;= from), keeping its slots and token.</summary>
    public void MoveRow(int from, int to)
    {
        if (from == to)
            return;
        Request[to] = Request[from];
        Staged[to] = Staged[from];
        for (int s = 0; s < _stages; s++)
            Slots(s)[to] = Slots(s)[from];
        TokenIds[to] = TokenIds[from];
    }

    /// <summary>Appends a row that already holds a slot on every stage (rows regrouped between RRA phases).</summary>
    public void AddRow(RequestState? request, int token, ReadOnlySpan<int> slotPerStage)
    {
        int row = Rows++;
        Request[row] = request;
        Staged[row] = null;
        for (int s = 0; s < _stages; s++)
            Slots(s)[row] = slotPerStage[s];
        TokenIds[row] = token;
    }

    /// <summary>Queues the slots of a finished row for release on every stage but <paramref name="except"/>
    /// (whose thread frees its own at once).</summary>
    public void QueueFree(int row, int except)
    {
        for (int s = 0; s < _stages; s++)
        {
            int slot = Slots(s)[row];
            if (s == except || slot < 0)
                continue;
            _pendingFree[s][_pendingCount[s]++] = slot;
        }
    }

    /// <summary>Slots stage <paramref name="stage"/> must free before running this batch; clears the list.</summary>
    public ReadOnlySpan<int> TakePendingFrees(int stage)
    {
        int n = _pendingCount[stage];
        _pendingCount[stage] = 0;
        return _pendingFree[stage].AsSpan(0, n);
    }

    public void Dispose()
    {
        foreach (HostBuffer b in _slots) b.Dispose();
        _seqLens?.Dispose();
        _tokenIds?.Dispose();
        foreach (HostBuffer? b in _hiddenOut) b?.Dispose();
        foreach (HostBuffer? b in _logits) b?.Dispose();
    }

    private static unsafe ulong Bytes<T>(long count) where T : unmanaged => checked((ulong)Math.Max(1, count) * (ulong)sizeof(T));
}
