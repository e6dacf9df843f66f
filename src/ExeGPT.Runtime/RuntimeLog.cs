using Microsoft.Extensions.Logging;

namespace ExeGPT.Runtime;

/// <summary>Source-generated log messages of the runtime; event ids 1000-1099 are stable.</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug,
        Message = "Created shard stage {Stage} TP rank {Rank}: layers [{LayerBegin}, {LayerEnd}), {ParameterBytes} parameter bytes")]
    public static partial void ShardCreated(ILogger logger, int stage, int rank, int layerBegin, int layerEnd, ulong parameterBytes);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug,
        Message = "Generator ready for {Model}: {Stages} stage(s) x {TensorParallel} TP rank(s) on {Backend} ({Dtype}), {ThreadsPerRank} CPU thread(s) per rank")]
    public static partial void GeneratorReady(ILogger logger, string model, int stages, int tensorParallel, string backend, string dtype, int threadsPerRank);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug,
        Message = "KV caches sized for {Slots} slot(s) x {SeqLen} token(s) on every shard")]
    public static partial void CachesSized(ILogger logger, int slots, int seqLen);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug,
        Message = "Prefilled {Sequences} sequence(s), {Tokens} token(s) in {Milliseconds:F1} ms")]
    public static partial void Prefilled(ILogger logger, int sequences, int tokens, double milliseconds);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug,
        Message = "Sequence {Index} finished ({Reason}) after {Tokens} generated token(s)")]
    public static partial void SequenceFinished(ILogger logger, int index, FinishReason reason, int tokens);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Debug,
        Message = "Compacted KV caches: {Live} live sequence(s) now in slots [0, {Live})")]
    public static partial void CachesCompacted(ILogger logger, int live);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning,
        Message = "Stage {Stage} TP rank {Rank} failed; aborting its communicator group so the peers stop waiting")]
    public static partial void RankFailed(ILogger logger, int stage, int rank, Exception failure);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Debug,
        Message = "Generated {Tokens} token(s) for {Sequences} sequence(s) in {DecodeSteps} decode step(s)")]
    public static partial void Generated(ILogger logger, int tokens, int sequences, int decodeSteps);
}
