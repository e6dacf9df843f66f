using System.Buffers;
using ExeGPT.Native.Handles;
using ExeGPT.Native.Internal;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Internal.NativeStatus;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Native;

/// <summary>A model shard (a layer range x a tensor-parallel rank) on a backend.</summary>
public sealed unsafe class Model : IDisposable
{
    private Model(ModelHandle handle, exg_model_info info)
    {
        Handle = handle;
        Info = info;
    }

    internal ModelHandle Handle { get; }

    /// <summary>The shard's layout as the library built it (layer range, stage role, local heads, parameter bytes).</summary>
    public exg_model_info Info { get; }

    public exg_model_config Config => Info.config;

    /// <exception cref="ExgException">A bad config, shard range or checkpoint, named in the message.</exception>
    public static Model Create(Backend backend, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        NativeLibraryLoader.EnsureLoaded();
        var config = ModelConfigs.Stamped(options.Config);
        var handle = new ModelHandle();
        using var dir = new Utf8String(options.CheckpointDir, stackalloc byte[512], nameof(options));
        exg_model* native;
        using (backend.Handle.Lease())
        using (options.Comm is { } comm ? comm.Handle.Lease() : default)
        fixed (byte* checkpointDir = dir)
        {
            var parameters = new exg_model_params
            {
                struct_size = (uint)sizeof(exg_model_params),
                config = config,
                checkpoint_dir = checkpointDir,
                seed = options.Seed,
                layer_begin = options.LayerBegin,
                layer_end = options.LayerEnd ?? config.num_layers,
                tp_rank = options.TpRank,
                tp_size = options.TpSize,
                comm = options.Comm is { } c ? c.Handle.Pointer : null,
            };
            Check(exg_model_create(backend.Handle.Pointer, &parameters, &native));
        }
        handle.Attach((nint)native, backend.Handle, options.Comm?.Handle);
        var info = new exg_model_info { struct_size = (uint)sizeof(exg_model_info) };
        try
        {
            using (handle.Lease())
                Check(exg_model_get_info(handle.Pointer, &info));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return new Model(handle, info);
    }

    /// <summary>Encodes prompts: appends every sequence's tokens (any length &gt;= 1) to its cache slot.</summary>
    /// <exception cref="ArgumentException">A span's length does not match the batch and this shard, named in the message.</exception>
    public void Prefill(KvCache cache, in Batch batch) => Run(cache, batch, decode: false);

    /// <summary>One decode step: one new token per sequence.</summary>
    /// <exception cref="ArgumentException">A span's length does not match the batch and this shard, named in the message.</exception>
    public void Decode(KvCache cache, in Batch batch) => Run(cache, batch, decode: true);

    /// <summary>Times attention, the rest of the layers and the all-reduces separately in every step (what the
    /// profiler needs). It synchronises the backend around each attention call, so leave it off otherwise.</summary>
    public void EnableStepTiming(bool enabled)
    {
        using var lease = Handle.Lease();
        Check(exg_model_set_step_timing(Handle.Pointer, enabled ? (byte)1 : (byte)0));
    }

    /// <summary>Where the last step spent its time (parts are 0 unless <see cref="EnableStepTiming"/> is on).</summary>
    public exg_step_timings LastStepTimings
    {
        get
        {
            var timings = new exg_step_timings { struct_size = (uint)sizeof(exg_step_timings) };
            using var lease = Handle.Lease();
            Check(exg_model_last_step_timings(Handle.Pointer, &timings));
            return timings;
        }
    }

    /// <summary>Writes the whole model as a Hugging Face OPT checkpoint (config.json + model.safetensors).</summary>
    public void SaveCheckpoint(string dir, exg_dtype dtype)
    {
        ArgumentNullException.ThrowIfNull(dir);
        using var utf8 = new Utf8String(dir, stackalloc byte[512], nameof(dir));
        using var lease = Handle.Lease();
        fixed (byte* p = utf8)
            Check(exg_model_save_checkpoint(Handle.Pointer, p, (int)dtype));
    }

    /// <summary>
    /// Samples one token per sequence of this last stage's latest step from the logits it kept on the backend (on the
    /// device for CUDA), with the same rule and random streams as <see cref="Sampler.Sample"/>; the step may have left
    /// <see cref="Batch.LogitsOut"/> empty so the logits never reach the host.
    /// </summary>
    /// <param name="options">The sampling rule, shared by every row.</param>
    /// <param name="rngStates">Each row's stream (advanced), one per sequence of the step.</param>
    /// <param name="tokensOut">Receives each row's token, one per sequence of the step.</param>
    /// <exception cref="InvalidOperationException">Not a last stage, or no step of it has succeeded since the last
    /// failure.</exception>
    /// <exception cref="ArgumentException">A span's length is not the step's sequence count.</exception>
    public void Sample(in SamplingOptions options, Span<ulong> rngStates, Span<int> tokensOut)
    {
        if (Info.is_last_stage == 0)
            throw new InvalidOperationException("Only a last-stage shard has logits to sample.");
        int rows = _stepRows;
        if (rows == 0)
            throw new InvalidOperationException("No step of this shard has produced logits to sample yet.");
        if (rngStates.Length != rows)
            throw new ArgumentException($"rngStates has {rngStates.Length} entries; the last step had {rows} sequences.", nameof(rngStates));
        if (tokensOut.Length != rows)
            throw new ArgumentException($"tokensOut has {tokensOut.Length} entries; the last step had {rows} sequences.", nameof(tokensOut));
        exg_sampling_params parameters = options.ToNative();
        using var lease = Handle.Lease();
        fixed (ulong* states = rngStates)
        fixed (int* tokens = tokensOut)
            Check(exg_model_sample(Handle.Pointer, &parameters, states, tokens));
    }

    public void Dispose() => Handle.Dispose();

    // Sequences of the last successful step (what Sample draws from); 0 after a failed one.
    private int _stepRows;

    private void Run(KvCache cache, in Batch batch, bool decode)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Model != this)
            throw new ArgumentException("The cache was created for another model shard.", nameof(cache));
        BatchValidator.Validate(batch, Info, decode);

        // Prefill always gets explicit lengths: an empty SeqLens means one token per sequence.
        var numSeqs = batch.Slots.Length;
        int[]? rented = null;
        scoped var seqLens = batch.SeqLens;
        if (!decode && seqLens.IsEmpty)
        {
            var ones = numSeqs <= 256 ? stackalloc int[numSeqs] : (rented = ArrayPool<int>.Shared.Rent(numSeqs)).AsSpan(0, numSeqs);
            ones.Fill(1);
            seqLens = ones;
        }
        try
        {
            fixed (int* slots = batch.Slots)
            fixed (int* lens = seqLens)
            fixed (int* tokenIds = batch.TokenIds)
            fixed (float* hiddenIn = batch.HiddenIn)
            fixed (float* hiddenOut = batch.HiddenOut)
            fixed (float* logits = batch.LogitsOut)
            {
                var native = new exg_batch
                {
                    struct_size = (uint)sizeof(exg_batch),
                    num_seqs = numSeqs,
                    slots = slots,
                    seq_lens = lens,
                    token_ids = tokenIds,
                    hidden_in = hiddenIn,
                    hidden_out = hiddenOut,
                    logits_out = logits,
                };
                using var model = Handle.Lease();
                using var kv = cache.Handle.Lease();
                _stepRows = 0;
                Check(decode
                    ? exg_model_decode(Handle.Pointer, cache.Handle.Pointer, &native)
                    : exg_model_prefill(Handle.Pointer, cache.Handle.Pointer, &native));
                _stepRows = numSeqs;
            }
        }
        finally
        {
            if (rented is not null)
                ArrayPool<int>.Shared.Return(rented);
        }
    }
}
