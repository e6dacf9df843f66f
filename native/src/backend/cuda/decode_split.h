// Split-KV sizing of the decode attention kernel (attention_decode.cu), in plain C++ so the host test
// (tests/native/decode_split_test.cpp) checks the very functions the launcher and the kernels call.
//
// Decode attends one query per (sequence, head) to the n = past + 1 cached positions of the sequence.
// Without splitting there are only num_seqs * num_heads thread blocks, too few to keep the memory system
// of a large GPU busy at small batch. So the positions are cut into chunks of `chunk` keys; every
// (sequence, head, split) is one block that leaves (max, sum, unnormalised output) of its chunk in an F32
// workspace, and a second kernel merges the splits of each (sequence, head) with log-sum-exp rescaling.
// One plan (splits, chunk) serves the whole batch: it is sized for the longest sequence (max_total), and a
// shorter sequence simply uses fewer splits (split_count), so no per-sequence host data is needed.
#pragma once

#include "core/host_device.h"

#include <cstddef>
#include <cstdint>

namespace exg::cuda::decode {

inline constexpr int kThreads = 128;       // threads per block of the split kernel
inline constexpr int kTileKeys = 64;       // keys a block loads per step (all threads, K and V together)
inline constexpr int kMinChunk = 256;      // a split streams at least this many keys (when it splits at all)
inline constexpr int kBlocksPerSm = 4;     // resident blocks per SM the split count aims to fill
static_assert(kMinChunk % kTileKeys == 0, "chunks are whole tiles");

struct SplitPlan {
    int32_t splits = 1;  // splits of the longest sequence; 1: one pass writes the output directly
    int32_t chunk = 0;   // keys per split (a multiple of kTileKeys, >= kMinChunk when splits > 1)
};

EXG_HOST_DEVICE constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits the launch would like for `units` = num_seqs * num_heads blocks over max_total keys: enough
// blocks for kBlocksPerSm per SM, but no chunk shorter than kMinChunk (a short chunk costs more in merge
// traffic and per-block overhead than it gains). Non-decreasing in max_total, which the workspace bound
// below relies on.
EXG_HOST_DEVICE constexpr int64_t wanted_splits(int64_t units, int32_t max_total, int32_t sm_count) {
    const int64_t target = static_cast<int64_t>(sm_count > 0 ? sm_count : 1) * kBlocksPerSm;
    if (units <= 0 || units >= target) return 1;
    const int64_t by_length = max_total / kMinChunk;  // floor: every chunk keeps >= kMinChunk keys
    const int64_t by_blocks = ceil_div(target, units);
    const int64_t s = by_blocks < by_length ? by_blocks : by_length;
    return s > 1 ? s : 1;
}

// The plan of one launch. The chunk is max_total / splits rounded up to whole tiles, and the split count
// is then recomputed from it, so the longest sequence has no empty split.
EXG_HOST_DEVICE constexpr SplitPlan plan_splits(int32_t num_seqs, int32_t num_heads, int32_t max_total,
                                                int32_t sm_count) {
    const int64_t n = max_total > 1 ? max_total : 1;
    const int64_t wanted = wanted_splits(static_cast<int64_t>(num_seqs) * num_heads, max_total, sm_count);
    const int64_t chunk = ceil_div(ceil_div(n, wanted), kTileKeys) * kTileKeys;
    SplitPlan plan;
    plan.chunk = static_cast<int32_t>(chunk);
    plan.splits = static_cast<int32_t>(ceil_div(n, chunk));
    return plan;
}

// Splits a sequence of n >= 1 positions uses: ceil(n / chunk), capped at the plan's count so that a
// sequence longer than the host-known max_total can never index past the workspace (the last split then
// takes the rest; with a correct max_total the cap never binds).
EXG_HOST_DEVICE constexpr int32_t split_count(const SplitPlan& plan, int32_t n) {
    const int64_t s = ceil_div(n, plan.chunk);
    return static_cast<int32_t>(s < plan.splits ? s : plan.splits);
}
// Positions [split_begin, split_end) of split `split` < split_count(plan, n) (both <= n, so they fit int32).
EXG_HOST_DEVICE constexpr int32_t split_begin(const SplitPlan& plan, int32_t split) {
    return static_cast<int32_t>(static_cast<int64_t>(split) * plan.chunk);
}
EXG_HOST_DEVICE constexpr int32_t split_end(const SplitPlan& plan, int32_t split, int32_t n) {
    return split + 1 == split_count(plan, n) ? n : static_cast<int32_t>(static_cast<int64_t>(split + 1) * plan.chunk);
}

// Workspace layout of a split launch (F32): the unnormalised outputs [num_seqs][num_heads][splits][head_dim],
// then (max, sum) pairs [num_seqs][num_heads][splits][2]. Max and sum are in log2 units (see the kernel).
EXG_HOST_DEVICE constexpr int64_t partial_index(const SplitPlan& plan, int32_t num_heads, int32_t seq,
                                                int32_t head, int32_t split) {
    return (static_cast<int64_t>(seq) * num_heads + head) * plan.splits + split;
}
EXG_HOST_DEVICE constexpr int64_t partials(const SplitPlan& plan, int32_t num_seqs, int32_t num_heads) {
    return static_cast<int64_t>(num_seqs) * num_heads * plan.splits;
}
EXG_HOST_DEVICE constexpr size_t plan_workspace_bytes(const SplitPlan& plan, int32_t num_seqs, int32_t num_heads,
                                                      int32_t head_dim) {
    return plan.splits > 1 ? static_cast<size_t>(partials(plan, num_seqs, num_heads)) * (head_dim + 2) * sizeof(float)
                           : 0;
}

// Bytes that cover every launch with up to num_seqs sequences of up to max_total positions (kernels.h's
// contract, so a caller may size the buffer once for its largest batch). The plan's split count never
// exceeds wanted_splits, which grows with max_total, so the largest max_total bounds every smaller one;
// over the sequence count there is no such order (fewer sequences split more), so every count that
// splits at all (units below the block target) is tried.
inline size_t workspace_bytes(int32_t num_seqs, int32_t num_heads, int32_t head_dim, int32_t max_total,
                              int32_t sm_count) {
    size_t most = 0;
    for (int32_t s = 1; s <= num_seqs; ++s) {
        const int64_t units = static_cast<int64_t>(s) * num_heads;
        const int64_t splits = wanted_splits(units, max_total, sm_count);
        if (splits <= 1) {
            if (units >= static_cast<int64_t>(sm_count > 0 ? sm_count : 1) * kBlocksPerSm) break;  // none beyond splits
            continue;
        }
        const size_t bytes = static_cast<size_t>(units * splits) * (head_dim + 2) * sizeof(float);
        if (bytes > most) most = bytes;
    }
    return most;
}

}  // namespace exg::cuda::decode
