// attention_decode.cu's kernels (split + merge), run under the CPU emulation, against an independent
// double-precision softmax attention over the same 16-bit cache. Covers both dtypes, head dims 64/80/96/128,
// one-split and multi-split plans (with the merge kernel), ragged past lengths (chunk and tile
// boundaries, a sequence short enough for one split inside a split batch), strided qkv/out rows whose
// padding must stay untouched, and the unsupported head dim error.
#include "emu_test_util.h"

#include "backend/cuda/decode_split.h"
#include "core/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace exg {
namespace {

using emu_test::dec;
using emu_test::enc;

struct DecodeCase {
    cuda::DType dtype;
    int head_dim;
    int heads;
    std::vector<int> pasts;  // one sequence each
    int sm_count;            // drives the split plan
    unsigned seed;
};

// Runs one batch; returns the plan's split count (so callers can assert which path ran).
int check_decode(const DecodeCase& c) {
    SCOPED_TRACE(testing::Message() << emu_test::name(c.dtype) << " D " << c.head_dim << " H " << c.heads << " seqs "
                                    << c.pasts.size() << " sm " << c.sm_count);
    const cuda::DType dt = c.dtype;
    const int D = c.head_dim, H = c.heads, S = static_cast<int>(c.pasts.size());
    std::mt19937 gen(c.seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    int max_total = 0;
    for (int p : c.pasts) max_total = std::max(max_total, p + 1);
    const int slots = S + 2, max_seq = max_total + 5;
    const int64_t head_stride = int64_t{max_seq} * D, slot_stride = H * head_stride;
    emu_test::Buffer<uint16_t> kc(static_cast<size_t>(slots * slot_stride)), vc(kc.size);
    for (size_t i = 0; i < kc.size; ++i) kc[i] = enc(dt, nd(gen));
    for (size_t i = 0; i < vc.size; ++i) vc[i] = enc(dt, nd(gen) * 3.0f);
    // Odd row strides: the query and output rows are read/written element-wise, never assumed aligned.
    const int64_t qkv_stride = 3 * H * D + 3, out_stride = H * D + 5;
    std::vector<uint16_t> qkv(static_cast<size_t>(S * qkv_stride));
    for (auto& x : qkv) x = enc(dt, nd(gen) * 2.0f);
    const uint16_t sentinel = 0x7e01;  // nothing outside the heads' columns may change
    std::vector<uint16_t> out(static_cast<size_t>(S * out_stride), sentinel);
    std::vector<int32_t> slot(S), q_start(S), len(S, 1), past(c.pasts.begin(), c.pasts.end());
    for (int s = 0; s < S; ++s) {
        slot[s] = (s * 5 + 1) % slots;  // distinct, not in order
        q_start[s] = S - 1 - s;         // rows in reverse order of sequences
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const size_t ws_bytes = cuda::attention_workspace_bytes(S, H, D, max_total, c.sm_count);
    std::vector<float> ws(ws_bytes / sizeof(float) + 1, NAN);  // NaN: a partial read before written shows

    cuda::AttentionLaunch L{};
    L.dtype = dt;
    L.num_seqs = S;
    L.slot = slot.data();
    L.q_start = q_start.data();
    L.len = len.data();
    L.past = past.data();
    L.max_len = 1;
    L.max_total = max_total;
    L.total_tokens = S;
    L.qkv = qkv.data();
    L.qkv_stride = qkv_stride;
    L.out = out.data();
    L.out_stride = out_stride;
    L.k_cache = kc.get();
    L.v_cache = vc.get();
    L.slot_stride = slot_stride;
    L.head_stride = head_stride;
    L.num_heads = H;
    L.head_dim = D;
    L.scale = scale;
    L.sm_count = c.sm_count;
    L.workspace = ws_bytes ? ws.data() : nullptr;
    L.workspace_bytes = ws_bytes;
    const long long launches_before = emu::launch_count();
    cuda::decode_attention(L, nullptr);
    const auto plan = cuda::decode::plan_splits(S, H, max_total, c.sm_count);
    EXPECT_EQ(emu::launch_count() - launches_before, plan.splits > 1 ? 2 : 1) << "split kernel, then merge iff split";

    // Output rounding (half a 16-bit ulp) plus F32 accumulation over up to a few thousand keys.
    const double rel_tol = dt == cuda::DType::BF16 ? 6e-3 : 1.5e-3;
    int bad = 0;
    for (int s = 0; s < S; ++s)
        for (int h = 0; h < H; ++h) {
            const uint16_t* q = &qkv[static_cast<size_t>(q_start[s] * qkv_stride + h * D)];
            const int64_t base = slot[s] * slot_stride + h * head_stride;
            const int n = past[s] + 1;
            std::vector<double> w(static_cast<size_t>(n));
            double mx = -1e300;
            for (int j = 0; j < n; ++j) {
                double d = 0;
                for (int i = 0; i < D; ++i) d += double(dec(dt, q[i])) * dec(dt, kc[static_cast<size_t>(base + j * D + i)]);
                w[static_cast<size_t>(j)] = d * scale;
                mx = std::max(mx, w[static_cast<size_t>(j)]);
            }
            double sum = 0;
            for (auto& x : w) {
                x = std::exp(x - mx);
                sum += x;
            }
            for (int i = 0; i < D; ++i) {
                double ref = 0;
                for (int j = 0; j < n; ++j) ref += w[static_cast<size_t>(j)] * dec(dt, vc[static_cast<size_t>(base + j * D + i)]);
                ref /= sum;
                const float got = dec(dt, out[static_cast<size_t>(q_start[s] * out_stride + h * D + i)]);
                if (!(std::fabs(got - ref) <= rel_tol * (1 + std::fabs(ref))) && ++bad <= 5)
                    ADD_FAILURE() << "seq " << s << " (past " << past[s] << ") head " << h << " dim " << i << ": got " << got
                                  << ", reference " << ref;
            }
        }
    EXPECT_EQ(bad, 0) << "mismatching output elements";
    for (int s = 0; s < S; ++s)
        for (int64_t col = H * D; col < out_stride; ++col)
            EXPECT_EQ(out[static_cast<size_t>(s * out_stride + col)], sentinel) << "row padding written, row " << s;
    return plan.splits;
}

class DecodeAttentionEmu : public testing::TestWithParam<std::tuple<cuda::DType, int>> {};

TEST_P(DecodeAttentionEmu, MultiSplitWithMergeAndOneSplitSequence) {
    const auto [dt, D] = GetParam();
    // sm 8: the 1101-key sequence splits, the 1-key one fits one split (written by the split kernel).
    EXPECT_GT(check_decode({dt, D, 2, {0, 300, 1100}, 8, 1u + static_cast<unsigned>(D)}), 1);
}

TEST_P(DecodeAttentionEmu, ChunkAndTileBoundaries) {
    const auto [dt, D] = GetParam();
    // 256/257/512 keys: exact chunk multiples and one past; 71 and 2: partial tiles.
    EXPECT_GT(check_decode({dt, D, 1, {255, 256, 511, 70, 1}, 4, 7u + static_cast<unsigned>(D)}), 1);
}

TEST_P(DecodeAttentionEmu, OneSplitBatch) {
    const auto [dt, D] = GetParam();
    // Enough sequences per SM that the plan does not split: the split kernel writes every output.
    EXPECT_EQ(check_decode({dt, D, 3, {5, 200, 64, 63, 127, 17, 128, 129}, 1, 99u + static_cast<unsigned>(D)}), 1);
}

INSTANTIATE_TEST_SUITE_P(HeadDims, DecodeAttentionEmu,
                         testing::Combine(testing::Values(cuda::DType::F16, cuda::DType::BF16), testing::Values(64, 80, 96, 128)),
                         [](const auto& p) {
                             return std::string(emu_test::name(std::get<0>(p.param))) + "_d" +
                                    std::to_string(std::get<1>(p.param));
                         });

TEST(DecodeAttentionEmuLong, ManySplitsOneSequence) {
    EXPECT_GT(check_decode({cuda::DType::F16, 64, 1, {4099}, 64, 5}), 8);
}

TEST(DecodeAttentionEmuErrors, UnsupportedHeadDim) {
    cuda::AttentionLaunch L{};
    L.head_dim = 72;
    L.dtype = cuda::DType::BF16;
    L.num_seqs = 1;
    L.num_heads = 1;
    try {
        cuda::decode_attention(L, nullptr);
        FAIL() << "head dim 72 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), EXG_ERR_UNSUPPORTED);
        EXPECT_NE(std::string(e.what()).find("head dim 72"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace exg
