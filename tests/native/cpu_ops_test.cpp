// CPU backend ops against naive loops written here (the op-parity reference other backends will
// reuse): GEMM with bias/activation epilogues, LayerNorm, and ragged causal attention with a KV cache.
#include "backend/cpu/cpu_backend.h"

#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

TEST(CpuOps, GemmWithEpilogues) {
    exg::CpuBackend be(2);
    for (int64_t m : {1, 3, 17, 70}) {  // GEMV, transposed skinny GEMM, plain GEMM
        for (int32_t act : {-1, static_cast<int32_t>(EXG_ACT_RELU), static_cast<int32_t>(EXG_ACT_GELU)}) {
            const int64_t n = 13, k = 29;
            auto a = random_vector(static_cast<size_t>(m * k), 1), w = random_vector(static_cast<size_t>(n * k), 2),
                 bias = random_vector(static_cast<size_t>(n), 3);
            std::vector<float> out(static_cast<size_t>(m * n));
            be.gemm({m, n, k, a.data(), k, w.data(), k, bias.data(), out.data(), n, act});
            for (int64_t i = 0; i < m; ++i) {
                for (int64_t j = 0; j < n; ++j) {
                    double ref = bias[static_cast<size_t>(j)];
                    for (int64_t x = 0; x < k; ++x) ref += static_cast<double>(a[static_cast<size_t>(i * k + x)]) * w[static_cast<size_t>(j * k + x)];
                    if (act == EXG_ACT_RELU) ref = std::max(ref, 0.0);
                    if (act == EXG_ACT_GELU) ref = 0.5 * ref * (1.0 + std::erf(ref / std::sqrt(2.0)));
                    ASSERT_NEAR(out[static_cast<size_t>(i * n + j)], ref, 1e-5) << "m=" << m << " act=" << act;
                }
            }
        }
    }
}

TEST(CpuOps, LayerNorm) {
    exg::CpuBackend be(2);
    const int64_t rows = 5, dim = 37;
    auto x = random_vector(static_cast<size_t>(rows * dim), 4), g = random_vector(static_cast<size_t>(dim), 5),
         b = random_vector(static_cast<size_t>(dim), 6);
    for (auto& v : x) v += 100.0f;  // a large offset must not hurt precision
    std::vector<float> out(x.size());
    be.layer_norm({rows, dim, x.data(), g.data(), b.data(), out.data(), 1e-5f});
    for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < dim; ++i) mean += x[static_cast<size_t>(r * dim + i)];
        mean /= dim;
        for (int64_t i = 0; i < dim; ++i) var += std::pow(x[static_cast<size_t>(r * dim + i)] - mean, 2);
        var /= dim;
        for (int64_t i = 0; i < dim; ++i) {
            const double ref = (x[static_cast<size_t>(r * dim + i)] - mean) / std::sqrt(var + 1e-5) * g[static_cast<size_t>(i)] + b[static_cast<size_t>(i)];
            ASSERT_NEAR(out[static_cast<size_t>(r * dim + i)], ref, 1e-4);
        }
    }
}

// Ragged prefill on top of existing cache contents equals dense causal attention over the full sequence.
TEST(CpuOps, RaggedAttentionWithCache) {
    exg::CpuBackend be(2);
    const int32_t heads = 3, hd = 8, hidden = heads * hd, max_seq = 16, slots = 4;
    const std::vector<int32_t> slot = {2, 0}, past = {0, 5}, len = {4, 3};
    const std::vector<int32_t> q_start = {0, 4};
    const int64_t tokens = 7;
    const int64_t slot_stride = static_cast<int64_t>(heads) * max_seq * hd, head_stride = static_cast<int64_t>(max_seq) * hd;
    auto kc = random_vector(static_cast<size_t>(slots * slot_stride), 7), vc = random_vector(kc.size(), 8);
    auto qkv = random_vector(static_cast<size_t>(tokens * 3 * hidden), 9);
    std::vector<float> out(static_cast<size_t>(tokens * hidden));
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const auto kc_before = kc, vc_before = vc;
    be.attention({2, slot.data(), q_start.data(), len.data(), past.data(), qkv.data(), 3 * hidden, out.data(), hidden,
                  kc.data(), vc.data(), slot_stride, head_stride, heads, hd, scale});
    for (size_t s = 0; s < 2; ++s) {
        for (int32_t h = 0; h < heads; ++h) {
            // Keys/values of the whole sequence: cached prefix, then the new rows.
            auto key = [&](int32_t pos, int32_t d, bool value) -> float {
                if (pos < past[s]) return (value ? vc_before : kc_before)[static_cast<size_t>(slot[s] * slot_stride + h * head_stride + pos * hd + d)];
                const int64_t row = q_start[s] + pos - past[s];
                return qkv[static_cast<size_t>(row * 3 * hidden + (value ? 2 : 1) * hidden + h * hd + d)];
            };
            for (int32_t i = 0; i < len[s]; ++i) {
                const int64_t row = q_start[s] + i;
                const int32_t ctx = past[s] + i + 1;
                std::vector<double> p(static_cast<size_t>(ctx));
                double mx = -1e30, sum = 0;
                for (int32_t j = 0; j < ctx; ++j) {
                    double dot = 0;
                    for (int32_t d = 0; d < hd; ++d) dot += qkv[static_cast<size_t>(row * 3 * hidden + h * hd + d)] * key(j, d, false);
                    p[static_cast<size_t>(j)] = dot * scale;
                    mx = std::max(mx, p[static_cast<size_t>(j)]);
                }
                for (auto& v : p) sum += v = std::exp(v - mx);
                for (int32_t d = 0; d < hd; ++d) {
                    double ref = 0;
                    for (int32_t j = 0; j < ctx; ++j) ref += p[static_cast<size_t>(j)] / sum * key(j, d, true);
                    ASSERT_NEAR(out[static_cast<size_t>(row * hidden + h * hd + d)], ref, 1e-5);
                }
                // The new key landed in the cache at its position.
                ASSERT_EQ(kc[static_cast<size_t>(slot[s] * slot_stride + h * head_stride + (past[s] + i) * hd)], key(past[s] + i, 0, false));
            }
        }
    }
}

}  // namespace
