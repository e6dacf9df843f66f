// Decode attention (one new query per sequence) over the KV cache, split-KV ("flash-decoding"), for F16
// and BF16 storage and head dims 64, 80, 96, 128.
//
// The op is memory-bound: per (sequence, head) it reads n = past + 1 keys and values once and does two
// FMAs per element read. So the design aims only at keeping enough 16-byte loads in flight:
//
// Split kernel: one block of 128 threads per (split, head, sequence) (decode_split.h sizes the splits so
// that small batches still fill the GPU; with enough sequences there is one split and it writes the
// output itself). A block streams its chunk of keys in tiles of 64. The threads form groups of kLanes (8 or
// 16) lanes, one group per key at a time: lane i of a group owns dims [8i, 8i + 8) of the query, of the
// key and of its share of the output, and loads them as one 16-byte pack (lanes past head_dim / 8 idle
// for head dims 80 and 96). A (sequence, head)'s history is contiguous ([pos][head_dim]), so the lanes
// of a warp read consecutive keys: one warp-wide load covers 512 contiguous bytes (320 or 384 for 80/96).
// Per tile every thread first issues all its loads (kUnroll keys x {K, V} = 8 or 16 packs), then
// reduces the dot products across its group with xor shuffles (every lane ends with the same score,
// bit for bit, since each butterfly step adds the same two values), then updates its group's online
// softmax. No shared memory and no barrier in the loop: each group keeps its own running max m, sum l and
// output o (in log2 units: q is pre-scaled by scale * log2 e, so p = exp2(s - m)); the groups are merged
// once at the end of the chunk through shared memory, like splits are merged across blocks.
// K and V are read with ld.global.nc (__ldg): append_kv wrote them in an earlier launch on the stream,
// and nothing writes the cache during this kernel.
//
// Merge kernel (only when the plan splits): one block per (sequence, head) rescales the splits' partial
// outputs by exp2(m_split - m_max), sums them and divides by the rescaled sum of l. Sequences short enough
// for one split were written by the split kernel and are skipped.
//
// Masking: keys past the chunk are neither loaded (their packs stay zero, so no stale NaN bits can reach
// the products) nor counted (score -inf, probability exp2(-inf) = 0). A group that has not yet met a key of
// the chunk keeps m = -inf and is skipped until it does, so -inf - -inf never occurs; every chunk has at
// least one key, so the merged max is finite.
#include "backend/cuda/attention_tiling.h"  // prefill::supported_head_dim: both paths take the same head dims
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/decode_split.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/storage.cuh"
#include "core/error.h"

#include <cuda_runtime.h>

#include <climits>
#include <cmath>

namespace exg::cuda {
namespace {

using decode::kThreads;
using decode::kTileKeys;
using decode::SplitPlan;

// How the 128 threads of a block share the keys of a tile, for head dim D.
template <int D>
struct KeyLanes {
    static constexpr int kActive = D / kPack;             // lanes holding 8 dims of a key: 8, 10, 12, 16
    static constexpr int kLanes = kActive <= 8 ? 8 : 16;  // a power of two dividing 32: a group never straddles warps
    static constexpr int kGroups = kThreads / kLanes;     // keys loaded side by side
    static constexpr int kUnroll = kTileKeys / kGroups;   // keys per group per tile
    static_assert(D % kPack == 0 && kActive <= kLanes, "a lane holds one 16-byte pack of a key");
    static_assert(32 % kLanes == 0 && kThreads % kLanes == 0, "groups tile warps exactly");
    static_assert(kTileKeys % kGroups == 0, "every group takes the same number of keys per tile");
    static_assert(D <= kThreads, "one thread per output dim in the merge steps");
};

// The launch plus what decode_attention derives from it.
struct DecodeArgs : AttentionLaunch {
    float scale_log2;  // scale * log2 e (the kernels read this, not scale)
    SplitPlan plan;
    float* partial_o;   // workspace [partials][head_dim] (split launches only)
    float* partial_ml;  // workspace [partials][2]: max, sum
};

constexpr float kLog2e = 1.4426950408889634f;

template <DType DT, int D>
__global__ void __launch_bounds__(kThreads, decode::kBlocksPerSm) decode_split_kernel(const DecodeArgs a) {
    using S = Storage<DT>;
    using T = typename S::T;
    using L = KeyLanes<D>;
    constexpr int kPacksPerKey = D / kPack;

    // Block -> (split, head, sequence), splits fastest.
    const int32_t split = static_cast<int32_t>(blockIdx.x % static_cast<uint32_t>(a.plan.splits));
    const uint32_t rest = blockIdx.x / static_cast<uint32_t>(a.plan.splits);
    const int32_t head = static_cast<int32_t>(rest % static_cast<uint32_t>(a.num_heads));
    const int32_t seq = static_cast<int32_t>(rest / static_cast<uint32_t>(a.num_heads));
    const int32_t n = a.past[seq] + 1;
    const int32_t count = decode::split_count(a.plan, n);
    if (split >= count) return;  // a shorter sequence: the whole block leaves, before any barrier
    const int32_t begin = decode::split_begin(a.plan, split);
    const int32_t end = decode::split_end(a.plan, split, n);

    const int lane = static_cast<int>(threadIdx.x) % L::kLanes;
    const int group = static_cast<int>(threadIdx.x) / L::kLanes;
    const bool active = lane < L::kActive;

    float q[kPack];
    {
        // The query row is read once per block; element loads need no alignment from the qkv layout.
        const T* qp = static_cast<const T*>(a.qkv) + a.q_start[seq] * a.qkv_stride + static_cast<int64_t>(head) * D;
#pragma unroll
        for (int i = 0; i < kPack; ++i) q[i] = active ? S::to_float(qp[lane * kPack + i]) * a.scale_log2 : 0.0f;
    }
    const int64_t cache_offset = a.slot[seq] * a.slot_stride + head * a.head_stride;
    // Pack `lane` of key j is at kp[j * kPacksPerKey] (the host checked 16-byte alignment of base and strides).
    const uint4* kp = reinterpret_cast<const uint4*>(static_cast<const T*>(a.k_cache) + cache_offset) + lane;
    const uint4* vp = reinterpret_cast<const uint4*>(static_cast<const T*>(a.v_cache) + cache_offset) + lane;

    float m = -INFINITY;
    float l = 0.0f;
    float o[kPack];
#pragma unroll
    for (int i = 0; i < kPack; ++i) o[i] = 0.0f;

    for (int32_t tile = begin; tile < end; tile += kTileKeys) {
        // Issue every load of the tile before using any (kUnroll K packs and kUnroll V packs per lane).
        Pack<DT> kr[L::kUnroll], vr[L::kUnroll];
#pragma unroll
        for (int u = 0; u < L::kUnroll; ++u) {
            const int32_t j = tile + group + u * L::kGroups;
            if (active && j < end) {
                kr[u].raw = __ldg(kp + static_cast<int64_t>(j) * kPacksPerKey);
                vr[u].raw = __ldg(vp + static_cast<int64_t>(j) * kPacksPerKey);
            } else {
                kr[u].raw = make_uint4(0, 0, 0, 0);
                vr[u].raw = make_uint4(0, 0, 0, 0);
            }
        }
        float s[L::kUnroll];
#pragma unroll
        for (int u = 0; u < L::kUnroll; ++u) {
            float dot = 0.0f;
#pragma unroll
            for (int i = 0; i < kPack / 2; ++i) {
                const float2 k2 = S::to_float2(kr[u].pair[i]);
                dot = fmaf(q[2 * i], k2.x, dot);
                dot = fmaf(q[2 * i + 1], k2.y, dot);
            }
            s[u] = dot;
        }
        // Every lane of the warp takes part (the loop bounds are uniform across the block).
#pragma unroll
        for (int offset = L::kLanes / 2; offset > 0; offset /= 2)
#pragma unroll
            for (int u = 0; u < L::kUnroll; ++u) s[u] += __shfl_xor_sync(0xffffffffu, s[u], offset);

        float tile_max = -INFINITY;
#pragma unroll
        for (int u = 0; u < L::kUnroll; ++u) {
            if (tile + group + u * L::kGroups >= end) s[u] = -INFINITY;
            tile_max = fmaxf(tile_max, s[u]);
        }
        const float m_new = fmaxf(m, tile_max);
        if (m_new == -INFINITY) continue;  // this group has met no key of the chunk yet
        const float alpha = exp2f(m - m_new);  // 0 on the group's first keys (m = -inf)
        l *= alpha;
#pragma unroll
        for (int i = 0; i < kPack; ++i) o[i] *= alpha;
#pragma unroll
        for (int u = 0; u < L::kUnroll; ++u) {
            const float p = exp2f(s[u] - m_new);
            l += p;
#pragma unroll
            for (int i = 0; i < kPack / 2; ++i) {
                const float2 v2 = S::to_float2(vr[u].pair[i]);
                o[2 * i] = fmaf(p, v2.x, o[2 * i]);
                o[2 * i + 1] = fmaf(p, v2.y, o[2 * i + 1]);
            }
        }
        m = m_new;
    }

    // Merge the groups: 4 KiB or less of shared memory (kGroups * D floats).
    __shared__ float group_o[L::kGroups][D];
    __shared__ float group_m[L::kGroups];
    __shared__ float group_l[L::kGroups];
    if (active) {
#pragma unroll
        for (int i = 0; i < kPack; ++i) group_o[group][lane * kPack + i] = o[i];
    }
    if (lane == 0) {
        group_m[group] = m;
        group_l[group] = l;
    }
    __syncthreads();
    const int d = static_cast<int>(threadIdx.x);
    if (d >= D) return;
    float m_max = -INFINITY;
#pragma unroll
    for (int g = 0; g < L::kGroups; ++g) m_max = fmaxf(m_max, group_m[g]);
    float acc = 0.0f, sum = 0.0f;
#pragma unroll
    for (int g = 0; g < L::kGroups; ++g) {
        const float w = exp2f(group_m[g] - m_max);  // 0 for a group that saw no key (its o and l are 0)
        acc = fmaf(w, group_o[g][d], acc);
        sum = fmaf(w, group_l[g], sum);
    }
    if (count == 1) {
        T* out = static_cast<T*>(a.out) + a.q_start[seq] * a.out_stride + static_cast<int64_t>(head) * D;
        out[d] = S::from_float(acc / sum);
    } else {
        const int64_t pi = decode::partial_index(a.plan, a.num_heads, seq, head, split);
        a.partial_o[pi * D + d] = acc;
        if (d == 0) {
            a.partial_ml[2 * pi] = m_max;
            a.partial_ml[2 * pi + 1] = sum;
        }
    }
}

template <DType DT, int D>
__global__ void __launch_bounds__(kThreads) decode_merge_kernel(const DecodeArgs a) {
    using S = Storage<DT>;
    using T = typename S::T;
    const int32_t head = static_cast<int32_t>(blockIdx.x % static_cast<uint32_t>(a.num_heads));
    const int32_t seq = static_cast<int32_t>(blockIdx.x / static_cast<uint32_t>(a.num_heads));
    const int32_t count = decode::split_count(a.plan, a.past[seq] + 1);
    const int d = static_cast<int>(threadIdx.x);
    if (count == 1 || d >= D) return;  // one split: the split kernel wrote the output
    const int64_t first = decode::partial_index(a.plan, a.num_heads, seq, head, 0);
    const float* ml = a.partial_ml + 2 * first;
    const float* po = a.partial_o + first * D + d;
    float m_max = -INFINITY;
    for (int32_t s = 0; s < count; ++s) m_max = fmaxf(m_max, ml[2 * s]);
    float acc = 0.0f, sum = 0.0f;
    for (int32_t s = 0; s < count; ++s) {
        const float w = exp2f(ml[2 * s] - m_max);
        acc = fmaf(w, po[static_cast<int64_t>(s) * D], acc);
        sum = fmaf(w, ml[2 * s + 1], sum);
    }
    T* out = static_cast<T*>(a.out) + a.q_start[seq] * a.out_stride + static_cast<int64_t>(head) * D;
    out[d] = S::from_float(acc / sum);
}

template <DType DT, int D>
void launch(const DecodeArgs& a, int32_t num_seqs, cudaStream_t stream) {
    const int64_t units = static_cast<int64_t>(num_seqs) * a.num_heads;
    const int64_t blocks = units * a.plan.splits;
    require(blocks <= INT_MAX, EXG_ERR_INVALID_ARGUMENT, "decode attention: ", num_seqs, " sequences x ", a.num_heads,
            " heads x ", a.plan.splits, " splits exceed the grid limit");
    decode_split_kernel<DT, D><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a);
    check_launch("decode_split_kernel");
    if (a.plan.splits > 1) {
        decode_merge_kernel<DT, D><<<static_cast<unsigned>(units), kThreads, 0, stream>>>(a);
        check_launch("decode_merge_kernel");
    }
}

template <DType DT>
void launch_for_head_dim(const DecodeArgs& a, int32_t num_seqs, int32_t head_dim, cudaStream_t stream) {
    switch (head_dim) {
        case 64: return launch<DT, 64>(a, num_seqs, stream);
        case 80: return launch<DT, 80>(a, num_seqs, stream);
        case 96: return launch<DT, 96>(a, num_seqs, stream);
        case 128: return launch<DT, 128>(a, num_seqs, stream);
        default: fail(EXG_ERR_UNSUPPORTED, "decode attention: head dim ", head_dim, " is not supported (64, 80, 96 or 128)");
    }
}

}  // namespace

size_t attention_workspace_bytes(int32_t num_seqs, int32_t num_heads, int32_t head_dim, int32_t max_total,
                                 int32_t sm_count) {
    return decode::workspace_bytes(num_seqs, num_heads, head_dim, max_total, sm_count);
}

void decode_attention(const AttentionLaunch& p, cudaStream_t stream) {
    require(prefill::supported_head_dim(p.head_dim), EXG_ERR_UNSUPPORTED, "decode attention: head dim ", p.head_dim,
            " is not supported (64, 80, 96 or 128)");
    check_storage_dtype(p.dtype, "decode attention");
    require(p.num_seqs >= 0 && p.num_heads > 0, EXG_ERR_INVALID_ARGUMENT, "decode attention: ", p.num_seqs,
            " sequences of ", p.num_heads, " heads");
    if (p.num_seqs == 0) return;
    require(p.max_total >= 1, EXG_ERR_INVALID_ARGUMENT, "decode attention: max_total is ", p.max_total,
            ", a decode step attends to at least one position");
    require(p.slot && p.q_start && p.past && p.qkv && p.out && p.k_cache && p.v_cache, EXG_ERR_INVALID_ARGUMENT,
            "decode attention: a null metadata, qkv, out or cache pointer");
    require(aligned16(p.k_cache) && aligned16(p.v_cache) && p.slot_stride % kPack == 0 && p.head_stride % kPack == 0,
            EXG_ERR_INVALID_ARGUMENT,
            "decode attention: the KV cache must allow 16-byte loads (16-byte aligned bases, slot stride ",
            p.slot_stride, " and head stride ", p.head_stride, " multiples of ", kPack, " elements)");
    require(std::isfinite(p.scale) && p.scale > 0.0f, EXG_ERR_INVALID_ARGUMENT, "decode attention: scale ", p.scale,
            " is not a positive number");

    const SplitPlan plan = decode::plan_splits(p.num_seqs, p.num_heads, p.max_total, p.sm_count);
    const size_t need = decode::plan_workspace_bytes(plan, p.num_seqs, p.num_heads, p.head_dim);
    require(p.workspace_bytes >= need && (need == 0 || p.workspace != nullptr), EXG_ERR_INVALID_ARGUMENT,
            "decode attention: the workspace has ", p.workspace_bytes, " bytes, ", p.num_seqs, " sequences x ",
            p.num_heads, " heads in ", plan.splits, " splits need ", need,
            " (attention_workspace_bytes gives the size)");

    DecodeArgs a{};
    static_cast<AttentionLaunch&>(a) = p;
    a.scale_log2 = p.scale * kLog2e;
    a.plan = plan;
    if (need > 0) {
        a.partial_o = static_cast<float*>(p.workspace);
        a.partial_ml = a.partial_o + decode::partials(plan, p.num_seqs, p.num_heads) * p.head_dim;
    }
    if (p.dtype == DType::F16)
        launch_for_head_dim<DType::F16>(a, p.num_seqs, p.head_dim, stream);
    else
        launch_for_head_dim<DType::BF16>(a, p.num_seqs, p.head_dim, stream);
}

}  // namespace exg::cuda
