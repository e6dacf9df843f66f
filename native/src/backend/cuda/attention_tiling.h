// Tile and fragment arithmetic of the prefill attention kernel (attention_prefill.cu), in plain C++ so
// the host test (tests/native/attention_tiling_test.cpp) checks the very functions the device code calls.
//
// Vocabulary: a thread block owns kBlockM query rows [m0, m0 + kBlockM) of one (sequence, head); it
// streams the keys in tiles of kBlockN. Row i of a sequence (0-based among its len new tokens) attends
// cache positions [0, limit] with limit = key_limit(...): past + i under the causal rule of kernels.h,
// past + len - 1 (every key in the cache) without it. Everything below is phrased in these limits, so
// the causal and the bidirectional kernel share one code path; a tile of keys needs masking only where
// some of its keys lie past the limit of the first row that looks at it.
#pragma once

#include "core/host_device.h"

#include <cstddef>
#include <cstdint>

namespace exg::cuda::prefill {

inline constexpr int kBlockM = 128;  // query rows per thread block
inline constexpr int kBlockN = 64;   // keys per K/V tile
inline constexpr int kWarpRows = 16; // one m16 MMA tile of query rows per warp
inline constexpr int kWarps = kBlockM / kWarpRows;
inline constexpr int kThreads = 32 * kWarps;
static_assert(kWarps == 8, "the design comment of attention_prefill.cu assumes 8 warps of 16 rows");
static_assert(kBlockM == 2 * kBlockN, "the Q tile overlays exactly one K+V pipeline stage in shared memory");

// Shared-memory rows are head_dim + 8 elements (16 bytes of padding): a row then spans an odd number of
// 16-byte chunks (9, 11, 13, 17 for head dims 64, 80, 96, 128), so the eight 16-byte rows one ldmatrix
// phase reads (same column, consecutive rows) land in eight distinct groups of four banks.
inline constexpr int kRowPad = 8;
EXG_HOST_DEVICE constexpr int smem_row_stride(int head_dim) { return head_dim + kRowPad; }

// Two pipeline stages of one K tile and one V tile, 2-byte elements. The Q tile (kBlockM rows) is loaded
// into stage 1 before the first K/V tile lands there, so it costs no extra space.
EXG_HOST_DEVICE constexpr size_t smem_bytes(int head_dim) {
    return size_t{2} * 2 * kBlockN * static_cast<size_t>(smem_row_stride(head_dim)) * 2;
}

EXG_HOST_DEVICE constexpr bool supported_head_dim(int head_dim) {
    return head_dim == 64 || head_dim == 80 || head_dim == 96 || head_dim == 128;
}

// Query tiles along a sequence of max_len new tokens (grid.x of the prefill launch); 64-bit so that no
// max_len overflows.
EXG_HOST_DEVICE constexpr int32_t query_tiles(int32_t max_len) {
    return static_cast<int32_t>((int64_t{max_len} + kBlockM - 1) / kBlockM);
}

// gridDim.y and gridDim.z are at most 65535: launches with more sequences go out in chunks of this many.
inline constexpr int32_t kMaxGridYZ = 65535;

// The last cache position query row `row` (0-based among the sequence's len new tokens) attends. With
// row < len it is below past + len: every key a valid row sees is in the cache (append_kv wrote
// positions [past, past + len)), so the limit is also the bounds mask.
EXG_HOST_DEVICE constexpr int32_t key_limit(int32_t past, int32_t len, int32_t row, bool causal) {
    return causal ? past + row : past + len - 1;
}

// Key tiles needed to reach key position `last_limit` (the limit of a block's last valid row): tiles
// 0 .. last_limit / kBlockN.
EXG_HOST_DEVICE constexpr int32_t key_tiles(int32_t last_limit) { return last_limit / kBlockN + 1; }

// The first key tile holding a key beyond `first_limit` (the limit of the smallest row of a group of
// rows): tile j ends at key j * kBlockN + kBlockN - 1, which exceeds L exactly when (j + 1) * kBlockN > L + 1,
// i.e. j >= (L + 1) / kBlockN. Earlier tiles are visible to every row of the group whole, and hold only
// keys <= L < past + len, so they need neither the causal nor the bounds mask.
EXG_HOST_DEVICE constexpr int32_t first_masked_key_tile(int32_t first_limit) { return (first_limit + 1) / kBlockN; }

// Whether key tile j holds any key a group of rows whose largest limit is last_limit can see (its first
// key is within that limit). Tiles that fail are skipped: every score would be masked.
EXG_HOST_DEVICE constexpr bool key_tile_visible(int32_t j, int32_t last_limit) { return j * kBlockN <= last_limit; }

// The mask itself: key position `key` is hidden from a row whose limit is `limit`.
EXG_HOST_DEVICE constexpr bool masked(int32_t key, int32_t limit) { return key > limit; }

// ldmatrix.sync.aligned.m8n8.x4 reads four 8x8 matrices of 16-bit elements; lanes 8j..8j+7 give the
// addresses of the eight 16-byte rows of matrix j, and register j of every lane receives matrix j
// (PTX ISA, "Warp-level matrix load instruction: ldmatrix"). These functions give the (row, column)
// offset, inside a 16x16 block of a row-major shared-memory tile, that lane `lane` points at.
struct LaneOffset {
    int row;
    int col;
};

// Matrices in the order (rows 0-7, cols 0-7), (rows 8-15, cols 0-7), (rows 0-7, cols 8-15),
// (rows 8-15, cols 8-15). For a row-major [m][k] block this yields the mma.m16n8k16 A fragment a0..a3;
// with .trans on a [k][n] block (V: keys x head dims) it yields the B fragments {b0, b1} of n columns
// 0-7 then {b0, b1} of n columns 8-15.
EXG_HOST_DEVICE constexpr LaneOffset ldsm_rows_first(int lane) {
    return {(lane & 7) + ((lane >> 3) & 1) * 8, (lane >> 4) * 8};
}

// Matrices in the order (rows 0-7, cols 0-7), (rows 0-7, cols 8-15), (rows 8-15, cols 0-7),
// (rows 8-15, cols 8-15). For an [n][k] block (K: keys x head dims) without .trans this yields the B
// fragments {b0, b1} of n rows 0-7 then {b0, b1} of n rows 8-15.
EXG_HOST_DEVICE constexpr LaneOffset ldsm_cols_first(int lane) {
    return {(lane & 7) + (lane >> 4) * 8, ((lane >> 3) & 1) * 8};
}

}  // namespace exg::cuda::prefill
