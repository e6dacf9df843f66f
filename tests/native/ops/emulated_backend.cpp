// Every op widens its storage-dtype operands to F32, runs the CPU backend's op and rounds the results
// back once, except where a GPU backend may legitimately round an intermediate, which this backend then
// does too, so the harness's tolerances are tested against the worst the contract allows:
//  - gemm with a bias or an activation: the product is rounded to the storage dtype first, then
//    bias + activation are applied and rounded again (the separate epilogue pass of gemm_lt.cu);
//  - layer_norm with a residual: the sum is rounded into x first and the rounded x is normalised.
#include "emulated_backend.h"

#include "core/activation.h"
#include "core/dtype.h"
#include "core/error.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace exg::ops {

EmulatedHalfBackend::EmulatedHalfBackend(exg_dtype dtype) : dtype_(dtype) {
    require(dtype == EXG_DTYPE_F16 || dtype == EXG_DTYPE_BF16, EXG_ERR_INVALID_ARGUMENT,
            "the emulated backend stores f16 or bf16, not dtype ", static_cast<int>(dtype));
}

void EmulatedHalfBackend::device_info(exg_device_info& out) const { std::snprintf(out.name, sizeof out.name, "%s (host)", name()); }

void* EmulatedHalfBackend::alloc(size_t bytes) {
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    if (p == nullptr) fail(EXG_ERR_OUT_OF_MEMORY, name(), ": cannot allocate ", bytes, " bytes");
    return p;
}
void EmulatedHalfBackend::free(void* p) noexcept { std::free(p); }
void EmulatedHalfBackend::upload(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void EmulatedHalfBackend::download(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void EmulatedHalfBackend::copy(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }

void EmulatedHalfBackend::upload_f32(void* dst, const float* src, int64_t count) {
    narrow(dst, std::vector<float>(src, src + count));
}

void EmulatedHalfBackend::download_f32(float* dst, const void* src, int64_t count) {
    const auto v = widen(src, count);
    std::copy(v.begin(), v.end(), dst);
}

std::vector<float> EmulatedHalfBackend::widen(const void* p, int64_t count) const {
    std::vector<float> v(static_cast<size_t>(std::max<int64_t>(count, 0)));
    const auto* h = static_cast<const uint16_t*>(p);
    for (size_t i = 0; i < v.size(); ++i) v[i] = dtype_ == EXG_DTYPE_F16 ? f16_to_f32(h[i]) : bf16_to_f32(h[i]);
    return v;
}

void EmulatedHalfBackend::narrow(void* p, const std::vector<float>& values) const {
    auto* h = static_cast<uint16_t*>(p);
    for (size_t i = 0; i < values.size(); ++i) h[i] = dtype_ == EXG_DTYPE_F16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
}

void EmulatedHalfBackend::gemm(const GemmParams& p) {
    auto a = widen(p.a, (p.m - 1) * p.lda + p.k);
    auto w = widen(p.w, (p.n - 1) * p.ldw + p.k);
    const auto bias = p.bias ? widen(p.bias, p.n) : std::vector<float>();
    if (p.out_f32) {
        cpu_.gemm({p.m, p.n, p.k, a.data(), p.lda, w.data(), p.ldw, p.bias ? bias.data() : nullptr, p.out, p.ldo, p.activation, 1});
        return;
    }
    auto out = widen(p.out, (p.m - 1) * p.ldo + p.n);
    cpu_.gemm({p.m, p.n, p.k, a.data(), p.lda, w.data(), p.ldw, nullptr, out.data(), p.ldo, -1, 1});
    if (p.bias || p.activation >= 0) {
        narrow(p.out, out);  // the product, rounded, then the epilogue pass
        out = widen(p.out, static_cast<int64_t>(out.size()));
        for (int64_t r = 0; r < p.m; ++r)
            for (int64_t c = 0; c < p.n; ++c) {
                float& v = out[static_cast<size_t>(r * p.ldo + c)];
                v = activate(v + (p.bias ? bias[static_cast<size_t>(c)] : 0.0f), p.activation);
            }
    }
    narrow(p.out, out);
}

void EmulatedHalfBackend::layer_norm(const LayerNormParams& p) {
    const int64_t n = p.rows * p.dim;
    auto x = widen(p.x, n);
    if (p.residual) {
        const auto r = widen(p.residual, n);
        for (size_t i = 0; i < x.size(); ++i) x[i] += r[i];
        narrow(p.x, x);  // the sum stored, then the stored sum normalised
        x = widen(p.x, n);
    }
    const auto gamma = p.gamma ? widen(p.gamma, p.dim) : std::vector<float>();
    const auto beta = p.beta ? widen(p.beta, p.dim) : std::vector<float>();
    std::vector<float> out(static_cast<size_t>(n));
    cpu_.layer_norm({p.rows, p.dim, x.data(), nullptr, p.gamma ? gamma.data() : nullptr, p.beta ? beta.data() : nullptr,
                     out.data(), p.eps, p.rms});
    narrow(p.out, out);
}

void EmulatedHalfBackend::embedding(const EmbeddingParams& p) {
    int64_t table_rows = 0, pos_rows = 0;
    for (int64_t r = 0; r < p.rows; ++r) {
        table_rows = std::max<int64_t>(table_rows, p.ids[r] + p.id_offset + 1);
        if (p.pos_table) pos_rows = std::max<int64_t>(pos_rows, p.pos_ids[r] + p.pos_offset + 1);
    }
    const auto table = widen(p.table, table_rows * p.dim);
    const auto positions = p.pos_table ? widen(p.pos_table, pos_rows * p.dim) : std::vector<float>();
    auto out = widen(p.out, p.rows * p.dim);
    cpu_.embedding({p.rows, p.dim, p.ids, p.id_offset, table.data(), p.pos_ids, p.pos_offset,
                    p.pos_table ? positions.data() : nullptr, out.data(), p.accumulate});
    narrow(p.out, out);
}

void EmulatedHalfBackend::attention(const AttentionParams& p) {
    int64_t tokens = 0, slots = 0;
    for (int32_t s = 0; s < p.num_seqs; ++s) {
        tokens = std::max<int64_t>(tokens, p.q_start[s] + p.len[s]);
        slots = std::max<int64_t>(slots, p.slot[s] + 1);
    }
    const int64_t hidden = static_cast<int64_t>(p.num_heads) * p.head_dim;
    const auto qkv = widen(p.qkv, (tokens - 1) * p.qkv_stride + 3 * hidden);
    auto out = widen(p.out, (tokens - 1) * p.out_stride + hidden);
    auto k = widen(p.k_cache, slots * p.slot_stride);
    auto v = widen(p.v_cache, slots * p.slot_stride);
    AttentionParams f = p;
    f.qkv = qkv.data();
    f.out = out.data();
    f.k_cache = k.data();
    f.v_cache = v.data();
    cpu_.attention(f);
    narrow(p.out, out);
    narrow(p.k_cache, k);
    narrow(p.v_cache, v);
}

void EmulatedHalfBackend::add(void* x, const void* y, int64_t n) {
    auto a = widen(x, n);
    const auto b = widen(y, n);
    cpu_.add(a.data(), b.data(), n);
    narrow(x, a);
}

void EmulatedHalfBackend::gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) {
    const size_t row_bytes = static_cast<size_t>(dim) * element_size();
    for (int64_t i = 0; i < count; ++i)
        std::memcpy(static_cast<char*>(dst) + i * row_bytes, static_cast<const char*>(src) + rows[i] * row_bytes, row_bytes);
}

void EmulatedHalfBackend::sample(const SampleParams& p) { cpu_.sample(p); }

}  // namespace exg::ops
