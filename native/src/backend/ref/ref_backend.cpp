#include "backend/ref/ref_backend.h"

#include "core/error.h"

#include <exegpt/exegpt.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace exg {
namespace {

double activate(double x, int32_t act) {
    switch (act) {
        case EXG_ACT_RELU: return x > 0 ? x : 0;
        case EXG_ACT_GELU: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        case EXG_ACT_GELU_TANH: return 0.5 * x * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        case EXG_ACT_SILU: return x / (1 + std::exp(-x));
        default: return x;
    }
}

}  // namespace

void* RefBackend::alloc(size_t bytes) {
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    if (p == nullptr) fail(EXG_ERR_OUT_OF_MEMORY, "ref backend: cannot allocate ", bytes, " bytes");
    return p;
}
void RefBackend::free(void* p) noexcept { std::free(p); }
void RefBackend::upload(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void RefBackend::download(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void RefBackend::copy(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }

void RefBackend::gemm(const GemmParams& p) {
    for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) {
            double acc = p.bias ? p.bias[j] : 0.0;
            for (int64_t x = 0; x < p.k; ++x) acc += static_cast<double>(p.a[i * p.lda + x]) * p.w[j * p.ldw + x];
            p.out[i * p.ldo + j] = static_cast<float>(activate(acc, p.activation));
        }
}

void RefBackend::layer_norm(const LayerNormParams& p) {
    for (int64_t r = 0; r < p.rows; ++r) {
        const float* x = p.x + r * p.dim;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < p.dim; ++i) mean += x[i];
        mean /= static_cast<double>(p.dim);
        for (int64_t i = 0; i < p.dim; ++i) var += (x[i] - mean) * (x[i] - mean);
        var /= static_cast<double>(p.dim);
        std::vector<double> y(static_cast<size_t>(p.dim));
        for (int64_t i = 0; i < p.dim; ++i)
            y[static_cast<size_t>(i)] = (x[i] - mean) / std::sqrt(var + p.eps) * (p.gamma ? p.gamma[i] : 1.0) + (p.beta ? p.beta[i] : 0.0);
        for (int64_t i = 0; i < p.dim; ++i) p.out[r * p.dim + i] = static_cast<float>(y[static_cast<size_t>(i)]);
    }
}

void RefBackend::embedding(const EmbeddingParams& p) {
    for (int64_t r = 0; r < p.rows; ++r)
        for (int64_t i = 0; i < p.dim; ++i) {
            const float v = p.table[(p.ids[r] + p.id_offset) * p.dim + i];
            p.out[r * p.dim + i] = p.accumulate ? p.out[r * p.dim + i] + v : v;
        }
}

void RefBackend::attention(const AttentionParams& p) {
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
                const int32_t ctx = p.past[s] + i + 1;
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

void RefBackend::add(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void RefBackend::gather_rows(float* dst, const float* src, const int32_t* rows, int64_t count, int64_t dim) {
    for (int64_t i = 0; i < count; ++i)
        for (int64_t d = 0; d < dim; ++d) dst[i * dim + d] = src[rows[i] * dim + d];
}

}  // namespace exg
