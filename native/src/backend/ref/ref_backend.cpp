#include "backend/ref/ref_backend.h"

#include "core/error.h"
#include "core/splitmix.h"

#include <exegpt/exegpt.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace exg {

double ref_activate(double x, int32_t act) {
    switch (act) {
        case EXG_ACT_RELU: return x > 0 ? x : 0;
        case EXG_ACT_GELU: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        case EXG_ACT_GELU_TANH: return 0.5 * x * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        case EXG_ACT_SILU: return x / (1 + std::exp(-x));
        default: return x;
    }
}

void* RefBackend::alloc(size_t bytes) {
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    if (p == nullptr) fail(EXG_ERR_OUT_OF_MEMORY, "ref backend: cannot allocate ", bytes, " bytes");
    return p;
}
void RefBackend::free(void* p) noexcept { std::free(p); }
void RefBackend::upload(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void RefBackend::download(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void RefBackend::copy(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
void RefBackend::upload_f32(void* dst, const float* src, int64_t count) { std::memcpy(dst, src, static_cast<size_t>(count) * 4); }
void RefBackend::download_f32(float* dst, const void* src, int64_t count) { std::memcpy(dst, src, static_cast<size_t>(count) * 4); }
void RefBackend::device_info(exg_device_info& out) const { std::snprintf(out.name, sizeof out.name, "reference"); }

void RefBackend::gemm(const GemmParams& g) {
    struct {
        int64_t m, n, k, lda, ldw, ldo;
        const float *a, *w, *bias;
        float* out;
        int32_t activation;
    } p{g.m, g.n, g.k, g.lda, g.ldw, g.ldo, static_cast<const float*>(g.a), static_cast<const float*>(g.w),
        static_cast<const float*>(g.bias), static_cast<float*>(g.out), g.activation};
    for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) {
            double acc = p.bias ? p.bias[j] : 0.0;
            for (int64_t x = 0; x < p.k; ++x) acc += static_cast<double>(p.a[i * p.lda + x]) * p.w[j * p.ldw + x];
            p.out[i * p.ldo + j] = static_cast<float>(ref_activate(acc, p.activation));
        }
}

void RefBackend::layer_norm(const LayerNormParams& n) {
    struct {
        int64_t rows, dim;
        float* x;
        const float *residual, *gamma, *beta;
        float* out;
        double eps;
        bool rms;
    } p{n.rows, n.dim, static_cast<float*>(n.x), static_cast<const float*>(n.residual), static_cast<const float*>(n.gamma),
        static_cast<const float*>(n.beta), static_cast<float*>(n.out), n.eps, n.rms != 0};
    for (int64_t r = 0; r < p.rows; ++r) {
        float* x = p.x + r * p.dim;
        if (p.residual)  // the fused residual add: the sum stays in x
            for (int64_t i = 0; i < p.dim; ++i) x[i] = static_cast<float>(static_cast<double>(x[i]) + p.residual[r * p.dim + i]);
        double mean = 0, var = 0;
        for (int64_t i = 0; i < p.dim; ++i) mean += x[i];
        mean = p.rms ? 0.0 : mean / static_cast<double>(p.dim);
        for (int64_t i = 0; i < p.dim; ++i) var += (x[i] - mean) * (x[i] - mean);
        var /= static_cast<double>(p.dim);
        std::vector<double> y(static_cast<size_t>(p.dim));
        for (int64_t i = 0; i < p.dim; ++i)
            y[static_cast<size_t>(i)] = (x[i] - mean) / std::sqrt(var + p.eps) * (p.gamma ? p.gamma[i] : 1.0) + (p.beta ? p.beta[i] : 0.0);
        for (int64_t i = 0; i < p.dim; ++i) p.out[r * p.dim + i] = static_cast<float>(y[static_cast<size_t>(i)]);
    }
}

void RefBackend::embedding(const EmbeddingParams& p) {
    const auto* table = static_cast<const float*>(p.table);
    const auto* positions = static_cast<const float*>(p.pos_table);
    auto* out = static_cast<float*>(p.out);
    for (int64_t r = 0; r < p.rows; ++r)
        for (int64_t i = 0; i < p.dim; ++i) {
            double v = table[(p.ids[r] + p.id_offset) * p.dim + i];
            if (positions) v += positions[(p.pos_ids[r] + p.pos_offset) * p.dim + i];
            out[r * p.dim + i] = static_cast<float>(p.accumulate ? out[r * p.dim + i] + v : v);
        }
}

void RefBackend::attention(const AttentionParams& a) {
    struct {
        int32_t num_seqs;
        const int32_t *slot, *q_start, *len, *past;
        const float* qkv;
        int64_t qkv_stride;
        float* out;
        int64_t out_stride;
        float *k_cache, *v_cache;
        int64_t slot_stride, head_stride;
        int32_t num_heads, head_dim;
        float scale;
        bool causal;
    } p{a.num_seqs, a.slot, a.q_start, a.len, a.past, static_cast<const float*>(a.qkv), a.qkv_stride,
        static_cast<float*>(a.out), a.out_stride, static_cast<float*>(a.k_cache), static_cast<float*>(a.v_cache),
        a.slot_stride, a.head_stride, a.num_heads, a.head_dim, a.scale, a.causal != 0};
    const int64_t hidden = static_cast<int64_t>(p.num_heads) * p.head_dim;
    for (int32_t s = 0; s < p.num_seqs; ++s)
        for (int32_t h = 0; h < p.num_heads; ++h) {
            float* kc = p.k_cache + p.slot[s] * p.slot_stride + h * p.head_stride;
            float* vc = p.v_cache + p.slot[s] * p.slot_stride + h * p.head_stride;
            for (int32_t i = 0; i < p.len[s]; ++i)  // append this step's keys and values first
                for (int32_t d = 0; d < p.head_dim; ++d) {
                    const float* row = p.qkv + (p.q_start[s] + i) * p.qkv_stride;
                    kc[(p.past[s] + i) * p.head_dim + d] = row[hidden + h * p.head_dim + d];
                    vc[(p.past[s] + i) * p.head_dim + d] = row[2 * hidden + h * p.head_dim + d];
                }
            for (int32_t i = 0; i < p.len[s]; ++i) {
                const float* q = p.qkv + (p.q_start[s] + i) * p.qkv_stride + h * p.head_dim;
                const int32_t ctx = p.causal ? p.past[s] + i + 1 : p.past[s] + p.len[s];
                std::vector<double> w(static_cast<size_t>(ctx));
                double top = -INFINITY, sum = 0;
                for (int32_t j = 0; j < ctx; ++j) {
                    double dot = 0;
                    for (int32_t d = 0; d < p.head_dim; ++d) dot += static_cast<double>(q[d]) * kc[j * p.head_dim + d];
                    w[static_cast<size_t>(j)] = dot * p.scale;
                    top = std::max(top, w[static_cast<size_t>(j)]);
                }
                for (auto& v : w) sum += v = std::exp(v - top);
                for (int32_t d = 0; d < p.head_dim; ++d) {
                    double acc = 0;
                    for (int32_t j = 0; j < ctx; ++j) acc += w[static_cast<size_t>(j)] * vc[j * p.head_dim + d];
                    p.out[(p.q_start[s] + i) * p.out_stride + h * p.head_dim + d] = static_cast<float>(acc / sum);
                }
            }
        }
}

void RefBackend::add(void* x, const void* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) static_cast<float*>(x)[i] += static_cast<const float*>(y)[i];
}

void RefBackend::gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) {
    for (int64_t i = 0; i < count; ++i)
        for (int64_t d = 0; d < dim; ++d) static_cast<float*>(dst)[i * dim + d] = static_cast<const float*>(src)[rows[i] * dim + d];
}

// The sampling rule stated plainly (a full sort every time): greedy = first maximum; unrestricted
// temperature sampling walks the vocabulary in index order; with top-k or top-p it walks the
// descending order (ties: lower index), cut to k, then to the smallest prefix reaching top_p.
void RefBackend::sample(const SampleParams& p) {
    for (int64_t r = 0; r < p.rows; ++r) {
        const float* l = p.logits + r * p.ld;
        const auto vocab = static_cast<size_t>(p.vocab);
        if (p.sampling.greedy) {
            p.tokens[r] = static_cast<int32_t>(std::max_element(l, l + vocab) - l);
            continue;
        }
        std::vector<int32_t> order(vocab);
        std::iota(order.begin(), order.end(), 0);
        const size_t k = p.sampling.top_k > 0 ? std::min(vocab, static_cast<size_t>(p.sampling.top_k)) : vocab;
        const bool restricted = k < vocab || p.sampling.top_p < 1.0f;
        if (restricted)
            std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
        order.resize(k);
        double top = -INFINITY;
        for (int32_t i : order) top = std::max(top, static_cast<double>(l[i]));
        std::vector<double> w(k);
        double total = 0;
        for (size_t i = 0; i < k; ++i) total += w[i] = std::exp((l[order[i]] - top) / static_cast<double>(p.sampling.temperature));
        size_t keep = k;
        if (p.sampling.top_p < 1.0f) {
            double mass = 0;
            for (keep = 0; keep < k;) {
                mass += w[keep++] / total;
                if (mass >= p.sampling.top_p) break;
            }
        }
        double kept = 0;
        for (size_t i = 0; i < keep; ++i) kept += w[i];
        const double u = rng_uniform(p.rng_states[r]);
        double cumulative = 0;
        int32_t chosen = order[keep - 1];
        for (size_t i = 0; i < keep; ++i)
            if (u * kept < (cumulative += w[i])) {
                chosen = order[i];
                break;
            }
        p.tokens[r] = chosen;
    }
}

}  // namespace exg
