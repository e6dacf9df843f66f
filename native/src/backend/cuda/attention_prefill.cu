// Prefill attention (flash-attention-2 structure) and the KV-cache append, for F16 and BF16 storage.
//
// Work decomposition. One thread block per (query tile of kBlockM = 128 rows, head, sequence):
// grid = (query_tiles(max_len), num_heads, num_seqs), the sequences in launches of at most 65535 (the
// gridDim.z limit). kernels.h hands over only device arrays, so a block reads len[seq] itself and leaves
// at once when its tile starts past the sequence (ragged batches cost one empty block per missing tile).
// blockIdx.x is walked in reverse so the last, most expensive causal tiles of every sequence are
// scheduled first and the short ones fill the tail.
//
// Causal and bidirectional (p.causal == 0) attention share the code: row i attends keys [0, limit] with
// limit = past + i, or past + len - 1 for every row (attention_tiling.h, key_limit). The limits are
// computed once per lane, so the bidirectional path differs only in which tiles get the mask: just the
// partial last tile, whose keys past the cache end are zero-filled in shared memory and masked to -inf.
//
// Inside a block: 8 warps, each owning 16 query rows (one m16 tile of mma.m16n8k16), so every warp holds
// its Q fragments, its scores and its output accumulator in registers and no warp ever exchanges data with
// another (only the K/V tiles in shared memory are shared). Per key tile of kBlockN = 64 keys:
//   S[16 x 64]  = Q[16 x D] K^T          mma A = Q (ldmatrix, loaded once), B = K tile (ldmatrix)
//   online softmax in F32 on S           row max / sum across the 4 lanes sharing a row (shuffles)
//   O[16 x D]  += P[16 x 64] V[64 x D]   mma A = P straight from the S accumulators (no shared memory),
//                                        B = V tile (ldmatrix.trans)
// mma.sync rather than nvcuda::wmma: wmma leaves its fragment layout unspecified, so P could not go from
// the score accumulators straight into the A operand of P V (it would round-trip through shared memory);
// mma.sync's layouts are documented. (sm_90's wgmma/TMA would go faster on an H100; the peer this kernel is
// measured against, PyTorch's flash-attention-2 backend, is built on mma.sync too.)
// The softmax scale is folded into log2 space (scale * log2 e) so each probability costs one FFMA and one
// ex2.approx; the running max is kept on raw scores, which requires scale > 0 (checked on the host).
//
// Fragment layouts relied on (PTX ISA, "Matrix fragments for mma.m16n8k16 with floating point type";
// groupID g = lane / 4, threadID_in_group t = lane % 4; each 32-bit register holds two consecutive
// elements, the lower column in the lower half):
//   A (16x16, row): a0 = (g, 2t..2t+1)  a1 = (g+8, 2t..2t+1)  a2 = (g, 2t+8..2t+9)  a3 = (g+8, 2t+8..2t+9)
//   B (16x8, col):  b0 = (k 2t..2t+1, n g)  b1 = (k 2t+8..2t+9, n g)
//   C (16x8, f32):  c0, c1 = (g, 2t), (g, 2t+1)  c2, c3 = (g+8, 2t), (g+8, 2t+1)
// Hence the C fragments of two adjacent n8 score tiles, packed pairwise to 16 bits, are exactly the A
// fragment of the k16 step of P V (a0 = tile0 c0c1, a1 = tile0 c2c3, a2 = tile1 c0c1, a3 = tile1 c2c3).
// ldmatrix (PTX ISA, "ldmatrix"): without .trans lane l receives row l/4, elements 2(l%4)..2(l%4)+1 of
// each 8x8 matrix; with .trans it receives column l/4, rows 2(l%4)..2(l%4)+1. K stored [key][d] is the B
// operand of S = Q K^T read without .trans (b0 = K[key g][d 2t..]); V stored [key][d] is the B operand of
// P V read with .trans (b0 = V[key 2t..2t+1][d g]). The lane address patterns are ldsm_rows_first /
// ldsm_cols_first in attention_tiling.h, checked on the host by tests/native/attention_tiling_test.cpp.
//
// Shared memory: two pipeline stages of {K tile, V tile}, rows padded to head_dim + 8 elements so that
// the 8 rows of each ldmatrix phase hit distinct banks (padding instead of an XOR swizzle: it covers head
// dims 80 and 96, whose rows are not a multiple of 128 bytes, with one rule; it costs 16 bytes a row).
// The Q tile is staged through stage 1 before the pipeline starts. Key tile j + 1 is loaded into one
// stage with cp.async (16-byte, L2-only, zero-fill for rows past the valid range) while tile j is computed
// from the other. Per block: 36, 44, 52 and 68 KiB for head dims 64, 80, 96 and 128.
//
// Head dims 64, 80, 96 and 128 are all multiples of 16, so the k loop of Q K^T and the n loop of P V
// cover exactly head_dim columns; the padding columns are never read. The mask is applied only to the
// key tiles that reach past the limit of a warp's first row (first_masked_key_tile); tiles past the
// limit of its last row are skipped by that warp (key_tile_visible). Because every row sees key 0, the
// first tile gives each row a finite running max before any fully masked row-tile can occur, so no row
// ever rescales by 2^(-inf - -inf) or divides 0 by 0.
#include "backend/cuda/attention_tiling.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/storage.cuh"
#include "core/error.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

namespace exg::cuda {
namespace {

using namespace prefill;

// --- the MMA per storage dtype, and packing two F32 values into one of its operand registers ---------------
template <DType Dt>
__device__ uint32_t pack2(float lo, float hi) {
    const auto pair = Storage<Dt>::from_float2(lo, hi);  // lo -> lower 16 bits
    uint32_t bits;
    memcpy(&bits, &pair, sizeof bits);
    return bits;
}

// d += a * b over one m16n8k16 tile (fragments as in the header comment).
template <DType Dt>
__device__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

template <>
__device__ void mma<DType::F16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ void mma<DType::BF16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// --- PTX wrappers (sm_80+). Memory clobbers keep the compiler from moving shared-memory traffic across
// the cp.async waits and barriers that order it. ---------------------------------------------------------
__device__ uint32_t smem_address(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// 16 bytes global -> shared, bypassing L1. With valid false nothing is read and the 16 bytes are zeroed
// (src-size 0 < cp-size: "the remaining bytes are filled with zeros"); src must still be a valid address.
__device__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
    const int src_bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(__cvta_generic_to_global(src)),
                 "r"(src_bytes)
                 : "memory");
}
__device__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most `pending` of this thread's committed groups are still in flight.
template <int pending>
__device__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending) : "memory");
}

__device__ void ldsm_x4(uint32_t addr, uint32_t (&r)[4]) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr)
                 : "memory");
}
__device__ void ldsm_x4_trans(uint32_t addr, uint32_t (&r)[4]) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr)
                 : "memory");
}

// 2^x with one MUFU op; ex2.approx(-inf) = +0, which is what masked scores need.
__device__ float exp2_approx(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

__device__ const char* bytes(const void* p) { return static_cast<const char*>(p); }

// Copies rows [0, kRows) x columns [0, D) of a global tile (row pitch src_pitch bytes) into shared memory
// at dst (row stride smem_row_stride(D) elements), 16 bytes per thread per step, consecutive threads on
// consecutive chunks of a row (coalesced). Rows >= valid_rows are zero-filled without reading global memory.
template <int D, int kRows>
__device__ void load_tile(uint32_t dst, const char* src, int64_t src_pitch, int valid_rows, int tid) {
    constexpr int kChunks = D / 8;  // 16-byte chunks per row
    constexpr int kTotal = kRows * kChunks;
#pragma unroll
    for (int step = 0; step < (kTotal + kThreads - 1) / kThreads; ++step) {
        const int idx = step * kThreads + tid;
        if (kTotal % kThreads == 0 || idx < kTotal) {
            const int row = idx / kChunks;
            const int chunk = idx % kChunks;
            const bool valid = row < valid_rows;
            const char* from = valid ? src + row * src_pitch + chunk * 16 : src;
            cp_async_16(dst + static_cast<uint32_t>((row * smem_row_stride(D) + chunk * 8) * 2), from, valid);
        }
    }
}

template <DType Dt, int D>
__global__ void __launch_bounds__(kThreads, 1)
    prefill_kernel(const AttentionLaunch p, const int seq0, const float scale_log2) {
    constexpr int kStride = smem_row_stride(D);               // elements per shared-memory row
    constexpr uint32_t kTileBytes = kBlockN * kStride * 2;    // one K or one V tile
    constexpr int kDSteps = D / 16;                           // k16 steps of Q K^T = n16 pairs of P V
    constexpr int kKeySteps = kBlockN / 16;                   // n16 pairs of Q K^T = k16 steps of P V
    static_assert(D % 16 == 0, "head dims are whole k16 MMA steps");
    static_assert(smem_bytes(D) == 4 * kTileBytes, "two stages of K and V");
    static_assert(kBlockM * kStride * 2 == 2 * kTileBytes, "the Q tile fills exactly stage 1");

    extern __shared__ __align__(16) unsigned char smem[];
    const uint32_t smem_base = smem_address(smem);
    // Stage s holds K at smem_base + 2s * kTileBytes and V right after it; Q is staged in stage 1.
    const uint32_t q_smem = smem_base + 2 * kTileBytes;

    const int seq = seq0 + static_cast<int>(blockIdx.z);
    const int head = blockIdx.y;
    const int m0 = static_cast<int>(gridDim.x - 1 - blockIdx.x) * kBlockM;
    const int len = p.len[seq];
    if (m0 >= len) return;  // block-uniform, before any barrier
    const int past = p.past[seq];
    const int kv_len = past + len;  // cache positions [0, kv_len) hold keys after append_kv
    const int64_t q_row0 = static_cast<int64_t>(p.q_start[seq]) + m0;
    const char* q_src = bytes(p.qkv) + (q_row0 * p.qkv_stride + static_cast<int64_t>(head) * D) * 2;
    const int64_t cache_offset = static_cast<int64_t>(p.slot[seq]) * p.slot_stride +
                                 static_cast<int64_t>(head) * p.head_stride;
    const char* k_src = bytes(p.k_cache) + cache_offset * 2;
    const char* v_src = bytes(p.v_cache) + cache_offset * 2;
    const bool causal = p.causal != 0;
    const int n_tiles = key_tiles(key_limit(past, len, min(m0 + kBlockM, len) - 1, causal));
    const int tid = threadIdx.x;

    // Prologue: Q (into stage 1) and key tile 0 (stage 0) in one group.
    load_tile<D, kBlockM>(q_smem, q_src, p.qkv_stride * 2, len - m0, tid);
    load_tile<D, kBlockN>(smem_base, k_src, D * 2, kv_len, tid);
    load_tile<D, kBlockN>(smem_base + kTileBytes, v_src, D * 2, kv_len, tid);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    const int warp = tid / 32;
    const int lane = tid % 32;
    const int g = lane >> 2;  // PTX groupID: the fragment row (and row + 8)
    const int t = lane & 3;   // PTX threadID_in_group: the fragment column pair
    const int warp_row0 = m0 + warp * kWarpRows;  // sequence-relative rows of this warp
    const bool warp_active = warp_row0 < len;
    const int warp_last_limit = key_limit(past, len, min(warp_row0 + kWarpRows, len) - 1, causal);
    const int warp_masked_from = first_masked_key_tile(key_limit(past, len, warp_row0, causal));
    // The limits of this lane's fragment rows g and g + 8 (rows past len get some limit too: their scores
    // stay finite, as Q and K past the valid range are zero-filled, and they are never stored).
    const int row_limit[2] = {key_limit(past, len, warp_row0 + g, causal),
                              key_limit(past, len, warp_row0 + g + 8, causal)};

    uint32_t q_frag[kDSteps][4];  // A fragments of the warp's 16 rows, all of head_dim
    {
        const LaneOffset at = ldsm_rows_first(lane);
#pragma unroll
        for (int kk = 0; kk < kDSteps; ++kk)
            ldsm_x4(q_smem + static_cast<uint32_t>(((warp * kWarpRows + at.row) * kStride + kk * 16 + at.col) * 2),
                    q_frag[kk]);
    }
    __syncthreads();  // stage 1 is free for key tile 1

    float o[D / 8][4] = {};                       // C fragments of O, n8 tiles over head_dim
    float row_max[2] = {-INFINITY, -INFINITY};    // rows g and g + 8, raw (unscaled) scores
    float row_sum[2] = {0.f, 0.f};                // this lane's share of the row sums
    const LaneOffset k_at = ldsm_cols_first(lane);
    const LaneOffset v_at = ldsm_rows_first(lane);

    for (int j = 0; j < n_tiles; ++j) {
        const uint32_t k_smem = smem_base + static_cast<uint32_t>(j & 1) * 2 * kTileBytes;
        const uint32_t v_smem = k_smem + kTileBytes;
        if (j + 1 < n_tiles) {  // prefetch tile j + 1 into the other stage (freed by the barrier below)
            const uint32_t next = smem_base + static_cast<uint32_t>((j + 1) & 1) * 2 * kTileBytes;
            const int key0 = (j + 1) * kBlockN;
            load_tile<D, kBlockN>(next, k_src + static_cast<int64_t>(key0) * D * 2, D * 2, kv_len - key0, tid);
            load_tile<D, kBlockN>(next + kTileBytes, v_src + static_cast<int64_t>(key0) * D * 2, D * 2,
                                  kv_len - key0, tid);
        }
        cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning tile j
        cp_async_wait<1>();
        __syncthreads();

        if (warp_active && key_tile_visible(j, warp_last_limit)) {  // warp-uniform
            // S = Q K^T: s[n] is the n8 tile of keys j*64 + 8n .. + 7.
            float s[kBlockN / 8][4] = {};
#pragma unroll
            for (int kk = 0; kk < kDSteps; ++kk)
#pragma unroll
                for (int np = 0; np < kKeySteps; ++np) {
                    uint32_t b[4];
                    ldsm_x4(k_smem + static_cast<uint32_t>(((np * 16 + k_at.row) * kStride + kk * 16 + k_at.col) * 2),
                            b);
                    mma<Dt>(s[2 * np], q_frag[kk], b[0], b[1]);
                    mma<Dt>(s[2 * np + 1], q_frag[kk], b[2], b[3]);
                }

            // Causal and bounds mask, only on tiles that can hold keys past this warp's limits (warp-uniform).
            if (j >= warp_masked_from) {
#pragma unroll
                for (int n = 0; n < kBlockN / 8; ++n)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int key = j * kBlockN + n * 8 + 2 * t + (e & 1);
                        if (masked(key, row_limit[e >> 1])) s[n][e] = -INFINITY;
                    }
            }

            // Online softmax on raw scores (scale > 0 keeps the max where it is): new running max, rescale
            // of the old sum and output, then p = 2^(s * scale_log2 - max * scale_log2) in place (one FFMA).
            float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int n = 0; n < kBlockN / 8; ++n) {
                tile_max[0] = fmaxf(tile_max[0], fmaxf(s[n][0], s[n][1]));
                tile_max[1] = fmaxf(tile_max[1], fmaxf(s[n][2], s[n][3]));
            }
            float base[2], alpha[2];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                // The 4 lanes of a row group are lanes 4g .. 4g + 3: xor 1 and 2 reach them all.
                tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
                tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
                const float new_max = fmaxf(row_max[r], tile_max[r]);
                // A row with nothing visible yet keeps base 0 (its probabilities are all 2^-inf = 0).
                base[r] = new_max == -INFINITY ? 0.f : new_max * scale_log2;
                alpha[r] = exp2_approx(row_max[r] * scale_log2 - base[r]);  // 0 while row_max is -inf
                row_max[r] = new_max;
            }
            float tile_sum[2] = {0.f, 0.f};
#pragma unroll
            for (int n = 0; n < kBlockN / 8; ++n)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    s[n][e] = exp2_approx(fmaf(s[n][e], scale_log2, -base[e >> 1]));
                    tile_sum[e >> 1] += s[n][e];
                }
#pragma unroll
            for (int r = 0; r < 2; ++r) row_sum[r] = row_sum[r] * alpha[r] + tile_sum[r];
#pragma unroll
            for (int n = 0; n < D / 8; ++n) {
                o[n][0] *= alpha[0];
                o[n][1] *= alpha[0];
                o[n][2] *= alpha[1];
                o[n][3] *= alpha[1];
            }

            // O += P V: the k16 step kk of P is score tiles 2kk and 2kk + 1 (see the header comment).
#pragma unroll
            for (int kk = 0; kk < kKeySteps; ++kk) {
                const uint32_t a[4] = {pack2<Dt>(s[2 * kk][0], s[2 * kk][1]),
                                       pack2<Dt>(s[2 * kk][2], s[2 * kk][3]),
                                       pack2<Dt>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                       pack2<Dt>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
                for (int dp = 0; dp < kDSteps; ++dp) {
                    uint32_t b[4];
                    ldsm_x4_trans(
                        v_smem + static_cast<uint32_t>(((kk * 16 + v_at.row) * kStride + dp * 16 + v_at.col) * 2), b);
                    mma<Dt>(o[2 * dp], a, b[0], b[1]);
                    mma<Dt>(o[2 * dp + 1], a, b[2], b[3]);
                }
            }
        }
        __syncthreads();  // every warp is done with stage j & 1 before iteration j + 1 refills it
    }

    if (!warp_active) return;  // after the last barrier
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float sum = row_sum[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inv = sum > 0.f ? 1.f / sum : 0.f;
        const int row = warp_row0 + g + r * 8;
        if (row < len) {
            const int64_t out_row = static_cast<int64_t>(p.q_start[seq]) + row;
            char* dst = static_cast<char*>(p.out) + (out_row * p.out_stride + static_cast<int64_t>(head) * D) * 2;
#pragma unroll
            for (int n = 0; n < D / 8; ++n)
                *reinterpret_cast<uint32_t*>(dst + (n * 8 + 2 * t) * 2) =
                    pack2<Dt>(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
        }
    }
}

// One block per (new token i, sequence): copies the row's k and v thirds (2 x num_heads x head_dim
// contiguous elements of the qkv row) into the cache at position past + i, 16 bytes per thread per step.
constexpr int kAppendThreads = 128;

__global__ void __launch_bounds__(kAppendThreads) append_kv_kernel(const AttentionLaunch p, const int seq0) {
    const int seq = seq0 + static_cast<int>(blockIdx.y);
    const int i = blockIdx.x;
    if (i >= p.len[seq]) return;
    const int64_t hidden = static_cast<int64_t>(p.num_heads) * p.head_dim;
    const int64_t row = static_cast<int64_t>(p.q_start[seq]) + i;
    const int64_t pos = static_cast<int64_t>(p.past[seq]) + i;
    const int64_t slot_offset = static_cast<int64_t>(p.slot[seq]) * p.slot_stride;
    const int chunks_per_head = p.head_dim / 8;
    const int chunks_per_third = p.num_heads * chunks_per_head;
    const uint4* src = reinterpret_cast<const uint4*>(bytes(p.qkv) + (row * p.qkv_stride + hidden) * 2);
    for (int c = threadIdx.x; c < 2 * chunks_per_third; c += kAppendThreads) {
        const bool is_v = c >= chunks_per_third;
        const int within = is_v ? c - chunks_per_third : c;
        const int head = within / chunks_per_head;
        const int part = within - head * chunks_per_head;
        char* cache = static_cast<char*>(is_v ? p.v_cache : p.k_cache);
        const int64_t at = slot_offset + head * p.head_stride + pos * p.head_dim + part * 8;
        *reinterpret_cast<uint4*>(cache + at * 2) = src[c];
    }
}

// --- host side ----------------------------------------------------------------------------------------------
// What both kernels assume: a supported shape and 16-byte vector access to qkv, out and the caches.
void validate(const AttentionLaunch& p, const char* op) {
    check_storage_dtype(p.dtype, op);
    require(supported_head_dim(p.head_dim), EXG_ERR_UNSUPPORTED, op, ": head dim ", p.head_dim,
            " is not supported by the CUDA attention kernels (64, 80, 96 or 128)");
    require(p.num_seqs >= 0, EXG_ERR_INVALID_ARGUMENT, op, ": negative sequence count ", p.num_seqs);
    require(p.num_heads >= 1 && p.num_heads <= kMaxGridYZ, EXG_ERR_INVALID_ARGUMENT, op, ": ", p.num_heads,
            " heads (1 .. ", kMaxGridYZ, ": gridDim.y)");
    require(p.max_len >= 0, EXG_ERR_INVALID_ARGUMENT, op, ": max_len ", p.max_len, " is negative");
    // Key positions run up to the last tile's end, past + len - 1 + kBlockN, in int32 on the device.
    require(p.max_total <= INT32_MAX - kBlockM, EXG_ERR_INVALID_ARGUMENT, op, ": ", p.max_total,
            " cache positions in one sequence (at most ", INT32_MAX - kBlockM, ")");
    const int64_t hidden = int64_t{p.num_heads} * p.head_dim;  // a multiple of 16: the k and v thirds stay aligned
    require(p.qkv_stride >= 3 * hidden && p.out_stride >= hidden, EXG_ERR_INVALID_ARGUMENT, op, ": qkv_stride ",
            p.qkv_stride, " / out_stride ", p.out_stride, " cannot hold rows of ", 3 * hidden, " / ", hidden,
            " elements");
    require(aligned16(p.qkv) && aligned16(p.out) && aligned16(p.k_cache) && aligned16(p.v_cache),
            EXG_ERR_INVALID_ARGUMENT, op, ": qkv, out, k_cache and v_cache must be 16-byte aligned");
    require(p.qkv_stride % 8 == 0 && p.out_stride % 8 == 0 && p.slot_stride % 8 == 0 && p.head_stride % 8 == 0,
            EXG_ERR_INVALID_ARGUMENT, op, ": strides must be multiples of 8 elements (qkv_stride ", p.qkv_stride,
            ", out_stride ", p.out_stride, ", slot_stride ", p.slot_stride, ", head_stride ", p.head_stride, ")");
}

template <DType Dt, int D>
void launch_prefill(const AttentionLaunch& p, cudaStream_t stream) {
    constexpr size_t smem = smem_bytes(D);
    // 99 KiB is the largest opt-in block allocation of sm_86/sm_89 (sm_80: 163 KiB, sm_90: 227 KiB).
    static_assert(smem <= 99 * 1024, "prefill tiles exceed the shared memory of sm_86/sm_89");
    const auto kernel = prefill_kernel<Dt, D>;
    // Above 48 KiB of dynamic shared memory a kernel must opt in. Setting it on every launch keeps it right
    // on every device a process drives (the attribute is per device), at the cost of one cheap driver call.
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
          "cudaFuncSetAttribute", " (prefill_attention, ", smem, " bytes of dynamic shared memory)");
    const float scale_log2 = p.scale * 1.4426950408889634f;  // log2(e): exp(x * scale) = 2^(x * scale_log2)
    for (int32_t seq0 = 0; seq0 < p.num_seqs; seq0 += kMaxGridYZ) {
        const dim3 grid(static_cast<unsigned>(query_tiles(p.max_len)), static_cast<unsigned>(p.num_heads),
                        static_cast<unsigned>(std::min(p.num_seqs - seq0, kMaxGridYZ)));
        kernel<<<grid, kThreads, smem, stream>>>(p, seq0, scale_log2);
        check_launch("prefill_attention");
    }
}

template <DType Dt>
void dispatch_head_dim(const AttentionLaunch& p, cudaStream_t stream) {
    switch (p.head_dim) {
    case 64: return launch_prefill<Dt, 64>(p, stream);
    case 80: return launch_prefill<Dt, 80>(p, stream);
    case 96: return launch_prefill<Dt, 96>(p, stream);
    case 128: return launch_prefill<Dt, 128>(p, stream);
    default: fail(EXG_ERR_UNSUPPORTED, "prefill_attention: head dim ", p.head_dim, " is not supported");
    }
}

}  // namespace

void append_kv(const AttentionLaunch& p, cudaStream_t stream) {
    validate(p, "append_kv");
    if (p.num_seqs == 0 || p.max_len == 0) return;
    for (int32_t seq0 = 0; seq0 < p.num_seqs; seq0 += kMaxGridYZ) {
        const dim3 grid(static_cast<unsigned>(p.max_len),
                        static_cast<unsigned>(std::min(p.num_seqs - seq0, kMaxGridYZ)));
        append_kv_kernel<<<grid, kAppendThreads, 0, stream>>>(p, seq0);
        check_launch("append_kv");
    }
}

void prefill_attention(const AttentionLaunch& p, cudaStream_t stream) {
    validate(p, "prefill_attention");
    require(p.scale > 0.f && std::isfinite(p.scale), EXG_ERR_INVALID_ARGUMENT, "prefill_attention: softmax scale ",
            p.scale, " is not a positive finite number");
    if (p.num_seqs == 0 || p.max_len == 0) return;
    if (p.dtype == DType::F16)
        dispatch_head_dim<DType::F16>(p, stream);
    else
        dispatch_head_dim<DType::BF16>(p, stream);
}

}  // namespace exg::cuda
