using ExeGPT.Native;
using ExeGPT.Native.Interop;

namespace ExeGPT.Profiler;

/// <summary>Every rank of the host for one TP degree d: Ranks / d groups of d ranks, each rank with its own backend
/// (its share of the threads, the plug-in kernels if any; CUDA: device i), one-layer model shard and KV cache, the ranks
/// of a group joined by a communicator (host group; NCCL on CUDA). Rank i is rank i % d of group i / d.</summary>
internal sealed class RankGroups : IDisposable
{
    // A collective that waits this long for a peer has lost it: fail instead of hanging the profile.
    private const uint CommTimeoutMs = 120_000;

    private readonly List<IDisposable> _owned = [];
    private readonly Backend[] _backends;
    private readonly Model[] _models;
    private readonly KvCache[] _caches;
    private readonly Comm?[] _comms;

    /// <param name="request">Ranks, threads, backend, seed and plug-in.</param>
    /// <param name="oneLayer">The model's config with one layer.</param>
    /// <param name="degree">TP degree d; it divides the ranks.</param>
    /// <param name="maxBatch">Slots per cache.</param>
    /// <param name="maxSeqLen">Tokens per slot.</param>
    public RankGroups(ProfileRequest request, exg_model_config oneLayer, int degree, int maxBatch, int maxSeqLen)
    {
        int ranks = request.Ranks;
        Degree = degree;
        _backends = new Backend[ranks];
        _models = new Model[ranks];
        _caches = new KvCache[ranks];
        _comms = new Comm?[ranks];
        Runners = new StepRunner[ranks];
        try
        {
            for (int g = 0; g < ranks / degree; g++)
            {
                for (int r = 0; r < degree; r++)
                    _backends[g * degree + r] = Own(CreateBackend(request, g * degree + r));
                Comm[]? group = degree > 1 ? Own(Comm.CreateGroup(_backends[(g * degree)..((g + 1) * degree)], CommTimeoutMs)) : null;
                for (int r = 0; r < degree; r++)
                {
                    int i = g * degree + r;
                    _comms[i] = group?[r];
                    _models[i] = Own(Model.Create(_backends[i], new ModelOptions
                    {
                        Config = oneLayer, Seed = request.Seed, TpRank = r, TpSize = degree, Comm = _comms[i],
                    }));
                    _models[i].EnableStepTiming(true);
                    _caches[i] = Own(new KvCache(_models[i], maxBatch, maxSeqLen));
                    Runners[i] = new StepRunner(_models[i], _caches[i], oneLayer.vocab_size, maxBatch, maxSeqLen, request.OnDevice);
                }
            }
            KernelLibraryName = _backends[0].KernelLibraryName;
            Crew = new RankCrew(ranks, AbortGroupOf);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Degree { get; }

    public int Count => _models.Length;

    public StepRunner[] Runners { get; }

    public RankCrew Crew { get; private set; } = null!;

    /// <summary>The plug-in's own name when one is loaded, else null.</summary>
    public string? KernelLibraryName { get; }

    /// <summary>Rank <paramref name="rank"/>'s communicator (null at degree 1).</summary>
    public Comm? CommOf(int rank) => _comms[rank];

    /// <summary>A backend of the request's kind and dtype for rank <paramref name="rank"/> (CUDA: device = rank), with
    /// the plug-in loaded before any model is built on it, as the engine requires. The caller owns it.</summary>
    public static Backend CreateBackend(ProfileRequest request, int rank)
    {
        Backend backend = Backend.Create(request.Backend, rank, request.ThreadsPerRank, request.Dtype);
        try
        {
            if (request.KernelLibrary is not null)
                backend.LoadKernelLibrary(request.KernelLibrary);
            return backend;
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>Releases the failing rank's peers from a collective they would otherwise wait in until the timeout.</summary>
    private void AbortGroupOf(int rank) => _comms[rank]?.Abort();

    private T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    private T[] Own<T>(T[] items) where T : IDisposable
    {
        _owned.AddRange(items.Cast<IDisposable>());
        return items;
    }

    public void Dispose()
    {
        Crew?.Dispose();
        // Caches before models before backends (and comms after the models using them): reverse creation order.
        for (int i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
        _owned.Clear();
    }
}
