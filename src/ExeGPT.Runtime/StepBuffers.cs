using ExeGPT.Native;

namespace ExeGPT.Runtime;

/// <summary>
/// The memory one generation exchanges with the shards, sized for a number of sequences and
/// prompt tokens and reused by later calls that fit: slots, lengths, token ids, inter-stage hidden
/// states and logits live in native host buffers (page-locked where the backend can), so the engine reads
/// and writes them in place and the decode loop copies and allocates nothing.
/// </summary>
internal sealed class StepBuffers : IDisposable
{
    private readonly int _hidden;
    private readonly int _vocab;
    private readonly HostBuffer _slots;
    private readonly HostBuffer _seqLens;
    private readonly HostBuffer _tokenIds;
    private readonly HostBuffer?[,] _hiddenOut; // [stage, rank]; none for the last stage
    private readonly HostBuffer[] _logits;      // [rank] of the last stage; only rank 0's are read

    public StepBuffers(IReadOnlyList<Backend> rankBackends, int stages, int hidden, int vocab, int seqCapacity, int tokenCapacity)
    {
        _hidden = hidden;
        _vocab = vocab;
        SeqCapacity = seqCapacity;
        TokenCapacity = tokenCapacity;
        int ranks = rankBackends.Count;
        _hiddenOut = new HostBuffer?[stages, ranks];
        _logits = new HostBuffer[ranks];
        try
        {
            // Every rank reads the same slots, lengths and ids; rank 0's backend owns them.
            _slots = HostBuffer.Allocate(rankBackends[0], Bytes<int>(seqCapacity));
            _seqLens = HostBuffer.Allocate(rankBackends[0], Bytes<int>(seqCapacity));
            _tokenIds = HostBuffer.Allocate(rankBackends[0], Bytes<int>(tokenCapacity));
            for (int s = 0; s < stages - 1; s++)
                for (int r = 0; r < ranks; r++)
                    _hiddenOut[s, r] = HostBuffer.Allocate(rankBackends[r], Bytes<float>((long)tokenCapacity * hidden));
            for (int r = 0; r < ranks; r++)
                _logits[r] = HostBuffer.Allocate(rankBackends[r], Bytes<float>((long)seqCapacity * vocab));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int SeqCapacity { get; }

    public int TokenCapacity { get; }

    /// <summary>KV slot of each batch row.</summary>
    public Span<int> Slots => _slots.AsSpan<int>()[..SeqCapacity];

    /// <summary>New tokens of each batch row (prefill only).</summary>
    public Span<int> SeqLens => _seqLens.AsSpan<int>()[..SeqCapacity];

    public bool Fits(int seqs, int tokens) => seqs <= SeqCapacity && tokens <= TokenCapacity;

    /// <summary>Input ids of the first stage; the sampler also writes the next step's ids here.</summary>
    public Span<int> TokenIds(int tokens) => _tokenIds.AsSpan<int>()[..tokens];

    /// <summary>What a rank of a non-last stage writes and rank 0's copy the next stage reads.</summary>
    public Span<float> HiddenOut(int stage, int rank, int tokens) =>
        _hiddenOut[stage, rank]!.AsSpan<float>()[..(tokens * _hidden)];

    /// <summary>Last-token logits of each row, [seqs x vocab].</summary>
    public Span<float> Logits(int rank, int seqs) => _logits[rank].AsSpan<float>()[..(seqs * _vocab)];

    public void Dispose()
    {
        _slots?.Dispose();
        _seqLens?.Dispose();
        _tokenIds?.Dispose();
        foreach (HostBuffer? buffer in _hiddenOut)
            buffer?.Dispose();
        foreach (HostBuffer? buffer in _logits)
            buffer?.Dispose();
    }

    private static unsafe ulong Bytes<T>(long count) where T : unmanaged =>
        checked((ulong)count * (ulong)sizeof(T));
}
