// Host checks of the prefill attention kernel's arithmetic (backend/cuda/attention_tiling.h): the tile
// ranges and the kernel's key schedule against brute force over the attention rule (causal and
// bidirectional), and the ldmatrix lane addresses, run through a model of the PTX-documented ldmatrix /
// mma.m16n8k16 fragment layouts, against plain matrix products. The model is written from the PTX ISA
// independently of the kernel; what it checks is that the kernel's addresses and fragment bookkeeping
// compute Q K^T and P V, and that every ldmatrix phase is free of bank conflicts. It does not run the
// kernel (that is the op-parity harness's job on a GPU).
#include "backend/cuda/attention_tiling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <set>
#include <vector>

namespace exg::cuda::prefill {
namespace {

// --- tile ranges ---------------------------------------------------------------------------------------

// The attention rule of kernels.h, written out independently of attention_tiling.h: row `row` of a
// sequence with `past` cached and `len` new tokens sees cache position `key`.
bool sees(int32_t key, int32_t past, int32_t len, int32_t row, bool causal) {
    return key >= 0 && key < past + len && (!causal || key <= past + row);
}

TEST(AttentionTiling, QueryTilesCoverEveryRowOnce) {
    for (int32_t max_len = 0; max_len <= 3 * kBlockM + 1; ++max_len) {
        const int32_t tiles = query_tiles(max_len);
        EXPECT_GE(tiles * kBlockM, max_len);
        EXPECT_LT((tiles - 1) * kBlockM, max_len == 0 ? 1 : max_len) << max_len;
    }
    EXPECT_EQ(query_tiles(INT32_MAX), INT32_MAX / kBlockM + 1) << "no overflow at the largest max_len";
}

TEST(AttentionTiling, KeyLimitIsTheAttentionRule) {
    for (bool causal : {true, false})
        for (int32_t past : {0, 1, 64, 130})
            for (int32_t len = 1; len <= 70; ++len)
                for (int32_t row = 0; row < len; ++row) {
                    const int32_t limit = key_limit(past, len, row, causal);
                    EXPECT_LT(limit, past + len) << "a valid row's limit is inside the cache";
                    for (int32_t key = 0; key < past + len + kBlockN; ++key)
                        ASSERT_EQ(!masked(key, limit), sees(key, past, len, row, causal))
                            << "causal " << causal << " past " << past << " len " << len << " row " << row
                            << " key " << key;
                }
}

TEST(AttentionTiling, KeyTilesReachTheLastVisibleKeyAndNoFurther) {
    for (bool causal : {true, false})
        for (int32_t past : {0, 1, 63, 64, 65, 200}) {
            for (int32_t len = 1; len <= 2 * kBlockM + 3; ++len) {
                for (int32_t m0 = 0; m0 < len; m0 += kBlockM) {
                    int32_t last_key = -1;  // the largest key any valid row of the tile attends
                    for (int32_t row = m0; row < m0 + kBlockM && row < len; ++row)
                        for (int32_t key = 0; key < past + len; ++key)
                            if (sees(key, past, len, row, causal)) last_key = std::max(last_key, key);
                    const int32_t last_row = std::min(m0 + kBlockM, len) - 1;
                    const int32_t tiles = key_tiles(key_limit(past, len, last_row, causal));
                    EXPECT_GT(tiles * kBlockN, last_key) << "past " << past << " len " << len << " m0 " << m0;
                    EXPECT_LE((tiles - 1) * kBlockN, last_key) << "a wasted tile at past " << past << " len " << len;
                    // The last tile starts at a written cache position (its base address is read from).
                    EXPECT_LT((tiles - 1) * kBlockN, past + len);
                }
            }
        }
}

TEST(AttentionTiling, UnmaskedTilesAreWhollyVisibleAndInTheCache) {
    for (bool causal : {true, false})
        for (int32_t past : {0, 5, 64, 127, 300}) {
            for (int32_t len = 1; len <= 300; len += 7) {
                for (int32_t first_row = 0; first_row < len; first_row += 5) {
                    const int32_t from = first_masked_key_tile(key_limit(past, len, first_row, causal));
                    const int32_t tiles = (past + len + kBlockN - 1) / kBlockN;
                    for (int32_t j = 0; j < tiles; ++j) {
                        bool any_hidden = false;  // from the group's first (most restricted) row, or past the cache
                        for (int32_t key = j * kBlockN; key < (j + 1) * kBlockN; ++key)
                            any_hidden = any_hidden || !sees(key, past, len, first_row, causal);
                        EXPECT_EQ(j >= from, any_hidden) << "causal " << causal << " past " << past << " len " << len
                                                         << " row " << first_row << " tile " << j;
                    }
                }
            }
        }
}

TEST(AttentionTiling, VisibleTilesAreThoseWithAKeyTheLastRowSees) {
    for (bool causal : {true, false})
        for (int32_t past : {0, 3, 64, 129}) {
            for (int32_t len : {1, 17, 64, 65, 260})
                for (int32_t last_row = 0; last_row < len; ++last_row) {
                    const int32_t limit = key_limit(past, len, last_row, causal);
                    for (int32_t j = 0; j * kBlockN <= past + len + 2 * kBlockN; ++j) {
                        bool any_seen = false;
                        for (int32_t key = j * kBlockN; key < (j + 1) * kBlockN; ++key)
                            any_seen = any_seen || sees(key, past, len, last_row, causal);
                        EXPECT_EQ(key_tile_visible(j, limit), any_seen);
                    }
                }
        }
}

// The kernel's whole key schedule for one sequence, with its control flow (blocks of kBlockM rows, warps
// of kWarpRows, key tiles 0 .. key_tiles - 1, a warp's visibility test, the mask from the warp's first
// masked tile on, per-row limits), against the rule: every valid row accumulates exactly the keys it sees;
// every tile read starts inside the cache; and each row's first accumulated tile holds a key it sees (the
// online softmax never starts from an all -inf tile: no 0/0 and no -inf - -inf).
void check_schedule(int32_t past, int32_t len, bool causal) {
    for (int32_t m0 = 0; m0 < len; m0 += kBlockM) {
        const int32_t n_tiles = key_tiles(key_limit(past, len, std::min(m0 + kBlockM, len) - 1, causal));
        ASSERT_LT((n_tiles - 1) * kBlockN, past + len);
        for (int32_t warp = 0; warp < kWarps; ++warp) {
            const int32_t warp_row0 = m0 + warp * kWarpRows;
            if (warp_row0 >= len) continue;
            const int32_t last_limit = key_limit(past, len, std::min(warp_row0 + kWarpRows, len) - 1, causal);
            const int32_t masked_from = first_masked_key_tile(key_limit(past, len, warp_row0, causal));
            for (int32_t row = warp_row0; row < warp_row0 + kWarpRows && row < len; ++row) {
                const int32_t limit = key_limit(past, len, row, causal);
                std::vector<bool> accumulated(static_cast<size_t>(past + len + kBlockN * (n_tiles + 1)), false);
                bool first_tile = true;
                for (int32_t j = 0; j < n_tiles; ++j) {
                    if (!key_tile_visible(j, last_limit)) continue;
                    bool any = false;
                    for (int32_t key = j * kBlockN; key < (j + 1) * kBlockN; ++key) {
                        const bool kept = j < masked_from || !masked(key, limit);
                        accumulated[static_cast<size_t>(key)] = kept;
                        any = any || kept;
                    }
                    if (first_tile) {
                        ASSERT_TRUE(any) << "row " << row << ": first tile fully masked";
                    }
                    first_tile = false;
                }
                for (int32_t key = 0; key < static_cast<int32_t>(accumulated.size()); ++key)
                    ASSERT_EQ(accumulated[static_cast<size_t>(key)], sees(key, past, len, row, causal))
                        << "causal " << causal << " past " << past << " len " << len << " row " << row << " key "
                        << key;
            }
        }
    }
}

TEST(AttentionTiling, KernelScheduleAccumulatesExactlyTheVisibleKeys) {
    for (bool causal : {true, false})
        for (int32_t past : {0, 1, 63, 64, 100, 257})
            for (int32_t len : {1, 2, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 255, 256, 257, 300}) {
                SCOPED_TRACE(testing::Message() << "causal " << causal << " past " << past << " len " << len);
                check_schedule(past, len, causal);
            }
}

TEST(AttentionTiling, SharedMemoryFitsAndQOverlaysOneStage) {
    for (int d : {64, 80, 96, 128}) {
        EXPECT_TRUE(supported_head_dim(d));
        EXPECT_LE(smem_bytes(d), size_t{99} * 1024) << d;
        EXPECT_EQ(size_t{kBlockM} * smem_row_stride(d) * 2, smem_bytes(d) / 2) << d;
        EXPECT_EQ(smem_row_stride(d) * 2 % 16, 0) << "rows must start 16-byte aligned for cp.async and ldmatrix";
    }
    EXPECT_FALSE(supported_head_dim(32));
    EXPECT_FALSE(supported_head_dim(112));
    EXPECT_FALSE(supported_head_dim(256));
}

// --- a model of the warp-level PTX instructions --------------------------------------------------------
// A 32-bit register holding two 16-bit elements, lower element first; values are small integers in
// float, so every product below is exact.
using Reg = std::array<float, 2>;
using LaneRegs4 = std::array<std::array<Reg, 4>, 32>;  // [lane][register]
using LaneRegs2 = std::array<std::array<Reg, 2>, 32>;
using LaneAcc = std::array<std::array<float, 4>, 32>;

// Shared memory: a row-major tile of 16-bit elements with the kernel's padded row stride.
struct Tile {
    int rows, stride;
    std::vector<float> data;
    float at(int element) const { return data.at(static_cast<size_t>(element)); }
};

// Bank conflicts: ldmatrix.x4 serves the warp in four phases, one 8x8 matrix (eight 16-byte rows, the
// addresses of lanes 8j..8j+7) each; a phase is conflict-free when its eight rows fall in eight distinct
// 16-byte groups of the 128-byte bank window.
void expect_conflict_free(const std::array<int, 32>& element_addr) {
    for (int phase = 0; phase < 4; ++phase) {
        std::set<int> groups;
        for (int l = 8 * phase; l < 8 * phase + 8; ++l) {
            EXPECT_EQ(element_addr[l] * 2 % 16, 0) << "ldmatrix rows must be 16-byte aligned";
            groups.insert(element_addr[l] * 2 % 128 / 16);
        }
        EXPECT_EQ(groups.size(), 8u) << "bank conflict in ldmatrix phase " << phase;
    }
}

// ldmatrix.sync.aligned.m8n8.x4{.trans}.shared.b16: lane l gives the address of row l % 8 of matrix l / 8.
// Without .trans, register j of lane l holds row l / 4, columns 2(l % 4) and 2(l % 4) + 1 of matrix j;
// with .trans it holds column l / 4, rows 2(l % 4) and 2(l % 4) + 1.
LaneRegs4 ldmatrix_x4(const Tile& smem, const std::array<int, 32>& element_addr, bool trans) {
    expect_conflict_free(element_addr);
    LaneRegs4 out{};
    for (int lane = 0; lane < 32; ++lane)
        for (int j = 0; j < 4; ++j)
            for (int h = 0; h < 2; ++h) {
                const int row = trans ? 2 * (lane % 4) + h : lane / 4;
                const int col = trans ? lane / 4 : 2 * (lane % 4) + h;
                out[lane][j][h] = smem.at(element_addr[8 * j + row] + col);
            }
    return out;
}

// mma.sync.aligned.m16n8k16.row.col.f32: with g = lane / 4 and t = lane % 4, element e of a (registers
// e / 2, half e % 2) is A[g + 8 * ((e / 2) % 2)][2t + e % 2 + 8 * (e / 4)]; element e of b is
// B[2t + e % 2 + 8 * (e / 2)][g]; element e of c is C[g + 8 * (e / 2)][2t + e % 2].
void mma(LaneAcc& c, const LaneRegs4& a, const LaneRegs2& b) {
    float A[16][16], B[16][8];
    for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        for (int e = 0; e < 8; ++e) A[g + 8 * ((e / 2) % 2)][2 * t + e % 2 + 8 * (e / 4)] = a[lane][e / 2][e % 2];
        for (int e = 0; e < 4; ++e) B[2 * t + e % 2 + 8 * (e / 2)][g] = b[lane][e / 2][e % 2];
    }
    for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        for (int e = 0; e < 4; ++e) {
            const int m = g + 8 * (e / 2), n = 2 * t + e % 2;
            for (int k = 0; k < 16; ++k) c[lane][e] += A[m][k] * B[k][n];
        }
    }
}

LaneRegs2 b_pair(const LaneRegs4& r, int first) {
    LaneRegs2 b{};
    for (int lane = 0; lane < 32; ++lane) b[lane] = {r[lane][first], r[lane][first + 1]};
    return b;
}

Tile make_tile(int rows, int head_dim, uint32_t seed) {
    Tile tile{rows, smem_row_stride(head_dim), {}};
    tile.data.assign(static_cast<size_t>(rows * tile.stride), 1e30f);  // padding: poison that must never be read
    for (int r = 0; r < rows; ++r)
        for (int d = 0; d < head_dim; ++d) {
            seed = seed * 1664525u + 1013904223u;
            tile.data[static_cast<size_t>(r * tile.stride + d)] = static_cast<float>(static_cast<int>(seed >> 28) - 8);
        }
    return tile;
}

// The kernel's fragment flow for one warp and one key tile, with its lane addresses: S = Q K^T, then P
// (here arbitrary small integers laid out as the S accumulators) times V, each compared element by
// element with the plain product.
void check_fragment_flow(int head_dim, int warp) {
    const int d_steps = head_dim / 16, key_steps = kBlockN / 16;
    const Tile q = make_tile(kBlockM, head_dim, 11u + static_cast<uint32_t>(head_dim));
    const Tile k = make_tile(kBlockN, head_dim, 23u + static_cast<uint32_t>(warp));
    const Tile v = make_tile(kBlockN, head_dim, 37u);

    std::vector<LaneRegs4> q_frag(static_cast<size_t>(d_steps));
    for (int kk = 0; kk < d_steps; ++kk) {
        std::array<int, 32> addr{};
        for (int lane = 0; lane < 32; ++lane) {
            const LaneOffset at = ldsm_rows_first(lane);
            addr[lane] = (warp * kWarpRows + at.row) * q.stride + kk * 16 + at.col;
        }
        q_frag[static_cast<size_t>(kk)] = ldmatrix_x4(q, addr, false);
    }

    std::vector<LaneAcc> s(kBlockN / 8, LaneAcc{});
    for (int kk = 0; kk < d_steps; ++kk)
        for (int np = 0; np < key_steps; ++np) {
            std::array<int, 32> addr{};
            for (int lane = 0; lane < 32; ++lane) {
                const LaneOffset at = ldsm_cols_first(lane);
                addr[lane] = (np * 16 + at.row) * k.stride + kk * 16 + at.col;
            }
            const LaneRegs4 b = ldmatrix_x4(k, addr, false);
            mma(s[static_cast<size_t>(2 * np)], q_frag[static_cast<size_t>(kk)], b_pair(b, 0));
            mma(s[static_cast<size_t>(2 * np + 1)], q_frag[static_cast<size_t>(kk)], b_pair(b, 2));
        }
    for (int n = 0; n < kBlockN / 8; ++n)
        for (int lane = 0; lane < 32; ++lane)
            for (int e = 0; e < 4; ++e) {
                const int row = warp * kWarpRows + lane / 4 + 8 * (e / 2), key = n * 8 + 2 * (lane % 4) + e % 2;
                float want = 0;
                for (int d = 0; d < head_dim; ++d) want += q.at(row * q.stride + d) * k.at(key * k.stride + d);
                ASSERT_EQ(s[static_cast<size_t>(n)][lane][e], want) << "S row " << row << " key " << key;
            }

    // P in the S accumulators, then the kernel's repacking of two n8 tiles into one k16 A fragment.
    float p[kWarpRows][kBlockN];
    for (int n = 0; n < kBlockN / 8; ++n)
        for (int lane = 0; lane < 32; ++lane)
            for (int e = 0; e < 4; ++e) {
                const float value = static_cast<float>((n * 7 + lane * 3 + e) % 5 - 2);
                s[static_cast<size_t>(n)][lane][e] = value;
                p[lane / 4 + 8 * (e / 2)][n * 8 + 2 * (lane % 4) + e % 2] = value;
            }
    std::vector<LaneAcc> o(static_cast<size_t>(head_dim / 8), LaneAcc{});
    for (int kk = 0; kk < key_steps; ++kk) {
        LaneRegs4 a{};
        for (int lane = 0; lane < 32; ++lane) {
            const auto& s0 = s[static_cast<size_t>(2 * kk)][lane];
            const auto& s1 = s[static_cast<size_t>(2 * kk + 1)][lane];
            a[lane] = {Reg{s0[0], s0[1]}, Reg{s0[2], s0[3]}, Reg{s1[0], s1[1]}, Reg{s1[2], s1[3]}};
        }
        for (int dp = 0; dp < d_steps; ++dp) {
            std::array<int, 32> addr{};
            for (int lane = 0; lane < 32; ++lane) {
                const LaneOffset at = ldsm_rows_first(lane);
                addr[lane] = (kk * 16 + at.row) * v.stride + dp * 16 + at.col;
            }
            const LaneRegs4 b = ldmatrix_x4(v, addr, true);
            mma(o[static_cast<size_t>(2 * dp)], a, b_pair(b, 0));
            mma(o[static_cast<size_t>(2 * dp + 1)], a, b_pair(b, 2));
        }
    }
    for (int n = 0; n < head_dim / 8; ++n)
        for (int lane = 0; lane < 32; ++lane)
            for (int e = 0; e < 4; ++e) {
                const int row = lane / 4 + 8 * (e / 2), d = n * 8 + 2 * (lane % 4) + e % 2;
                float want = 0;
                for (int key = 0; key < kBlockN; ++key) want += p[row][key] * v.at(key * v.stride + d);
                ASSERT_EQ(o[static_cast<size_t>(n)][lane][e], want) << "O row " << row << " dim " << d;
            }
}

TEST(AttentionTiling, FragmentFlowComputesQKAndPV) {
    for (int head_dim : {64, 80, 96, 128})
        for (int warp : {0, 3, kWarps - 1}) {
            SCOPED_TRACE(testing::Message() << "head dim " << head_dim << ", warp " << warp);
            check_fragment_flow(head_dim, warp);
        }
}

}  // namespace
}  // namespace exg::cuda::prefill
