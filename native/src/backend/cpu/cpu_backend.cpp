#include "backend/cpu/cpu_backend.h"

#include "backend/cpu/small_gemm.h"
#include "core/activation.h"
#include "core/error.h"
#include "sampling/sampler.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

namespace exg {
namespace {

constexpr size_t kAlignment = 64;
constexpr int64_t kSkinnyRows = 64;

}  // namespace

CpuBackend::CpuBackend(int num_threads) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // libgomp exits the process when it cannot create a team, so absurd counts are refused here.
    require(num_threads <= 4 * cores, EXG_ERR_INVALID_ARGUMENT, "cpu backend: num_threads ", num_threads,
            " is more than 4 x the ", cores, " cores of this machine");
    threads_ = num_threads > 0 ? num_threads : cores;
#if defined(EXG_HAVE_OPENBLAS)
    // BLAS runs single-threaded inside our OpenMP threads (see gemm).
    openblas_set_num_threads(1);
#endif
}

void* CpuBackend::alloc(size_t bytes) {
    if (bytes > SIZE_MAX - kAlignment) fail(EXG_ERR_OUT_OF_MEMORY, "cannot allocate ", bytes, " bytes of host memory");
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
    if (p == nullptr) fail(EXG_ERR_OUT_OF_MEMORY, "cannot allocate ", bytes, " bytes of host memory");
    return p;
}

void CpuBackend::free(void* p) noexcept { std::free(p); }

size_t CpuBackend::available_memory() const {
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
        if (line.rfind("MemAvailable:", 0) == 0) return static_cast<size_t>(std::stoull(line.substr(13))) * 1024;  // kB
    return 0;  // unknown (not Linux)
}

void CpuBackend::upload(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::download(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::copy(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
void CpuBackend::upload_f32(void* dst, const float* src, int64_t count) { std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float)); }
void CpuBackend::download_f32(float* dst, const void* src, int64_t count) { std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float)); }

void CpuBackend::device_info(exg_device_info& out) const {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string name = "cpu";
    for (std::string line; std::getline(cpuinfo, line);)
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            const auto start = colon == std::string::npos ? colon : line.find_first_not_of(" \t", colon + 1);
            if (start != std::string::npos) name = line.substr(start);  // an empty value keeps "cpu"
            break;
        }
    std::snprintf(out.name, sizeof out.name, "%s", name.c_str());
    out.free_memory = available_memory();
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
        if (line.rfind("MemTotal:", 0) == 0) out.total_memory = static_cast<uint64_t>(std::stoull(line.substr(9))) * 1024;
    out.multiprocessors = threads_;
    out.compute_capability = 0;
    out.peak_bandwidth_gbps = 0;
}

void CpuBackend::gemm(const GemmParams& p) {
    // One thread pool (OpenMP) for everything: each thread runs single-threaded BLAS on its own
    // block of output columns and applies the epilogue while the block is still in cache. Letting
    // OpenBLAS spawn its own pool next to OpenMP's spinning threads made steps ~5x slower on 2 cores.
    // OpenBLAS's OpenMP build sizes its pool from the calling thread's omp_get_max_threads() whenever it is called
    // outside a parallel region (chunks == 1 below), so every rank thread of a multi-rank host would start a pool over
    // all cores (measured: 10-20x slower small steps with 2 one-thread ranks). Every parallel region here names its
    // own team size, so pinning this thread's default to 1 only keeps BLAS single-threaded.
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
    const auto* a = static_cast<const float*>(p.a);
    const auto* weights = static_cast<const float*>(p.w);
    const auto* bias = static_cast<const float*>(p.bias);
    auto* result = static_cast<float*>(p.out);
    const double flops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k);
    const int64_t chunks = flops < 2e6 ? 1 : std::min<int64_t>(threads_, (p.n + 15) / 16);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static) if (chunks > 1)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        // Column blocks aligned to 16 floats (one cache line) so threads never share an output line.
        const int64_t n0 = (p.n * chunk / chunks) / 16 * 16;
        const int64_t n1 = chunk + 1 == chunks ? p.n : (p.n * (chunk + 1) / chunks) / 16 * 16;
        if (n1 <= n0) continue;
        const int nc = static_cast<int>(n1 - n0);
        const float* w = weights + n0 * p.ldw;
        float* out = result + n0;
        if (p.m == 1) {  // one row (batch-1 decode): GEMV avoids GEMM's packing
            cblas_sgemv(CblasRowMajor, CblasNoTrans, nc, static_cast<int>(p.k), 1.0f, w, static_cast<int>(p.ldw), a, 1,
                        0.0f, out, 1);
        } else if (p.m <= kSmallGemmMaxRows) {
            small_gemm(p.m, nc, p.k, a, p.lda, w, p.ldw, out, p.ldo);  // 2..8 rows: one pass over the weights
        } else if (p.m <= kSkinnyRows) {
            // Few rows (decode batches): compute out^T = W a^T so the weights are the streamed operand
            // and the activations the small packed one, then transpose the small result back
            // (measured side by side on 2 cores: 1.2x faster at 32 rows, 8192 x 2048).
            thread_local std::vector<float> transposed;
            transposed.resize(static_cast<size_t>(nc * p.m));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nc, static_cast<int>(p.m), static_cast<int>(p.k), 1.0f, w,
                        static_cast<int>(p.ldw), a, static_cast<int>(p.lda), 0.0f, transposed.data(), static_cast<int>(p.m));
            for (int64_t r = 0; r < p.m; ++r)
                for (int64_t c = 0; c < nc; ++c) out[r * p.ldo + c] = transposed[static_cast<size_t>(c * p.m + r)];
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(p.m), nc, static_cast<int>(p.k), 1.0f,
                        a, static_cast<int>(p.lda), w, static_cast<int>(p.ldw), 0.0f, out, static_cast<int>(p.ldo));
        }
        if (bias == nullptr && p.activation < 0) continue;
        for (int64_t r = 0; r < p.m; ++r) {
            float* row = out + r * p.ldo;
            if (bias != nullptr)
                for (int64_t c = 0; c < nc; ++c) row[c] += bias[n0 + c];
            if (p.activation >= 0)
                for (int64_t c = 0; c < nc; ++c) row[c] = activate(row[c], p.activation);
        }
    }
}

void CpuBackend::layer_norm(const LayerNormParams& p) {
#pragma omp parallel for num_threads(threads_) schedule(static) if (p.rows > 4)
    for (int64_t r = 0; r < p.rows; ++r) {
        float* x = static_cast<float*>(p.x) + r * p.dim;
        float* y = static_cast<float*>(p.out) + r * p.dim;
        const auto* gamma = static_cast<const float*>(p.gamma);
        const auto* beta = static_cast<const float*>(p.beta);
        if (p.residual != nullptr) {
            const float* res = static_cast<const float*>(p.residual) + r * p.dim;
            for (int64_t i = 0; i < p.dim; ++i) x[i] += res[i];
        }
        double mean = 0.0;
        if (!p.rms) {
            for (int64_t i = 0; i < p.dim; ++i) mean += x[i];
            mean /= static_cast<double>(p.dim);
        }
        double var = 0.0;  // two-pass: numerically safe for large offsets
        for (int64_t i = 0; i < p.dim; ++i) {
            const double d = x[i] - mean;
            var += d * d;
        }
        var /= static_cast<double>(p.dim);
        const float inv = static_cast<float>(1.0 / std::sqrt(var + p.eps));
        const float m = static_cast<float>(mean);
        for (int64_t i = 0; i < p.dim; ++i) {
            float v = (x[i] - m) * inv;
            if (gamma != nullptr) v *= gamma[i];
            if (beta != nullptr) v += beta[i];
            y[i] = v;
        }
    }
}

void CpuBackend::embedding(const EmbeddingParams& p) {
#pragma omp parallel for num_threads(threads_) schedule(static) if (p.rows > 8)
    for (int64_t r = 0; r < p.rows; ++r) {
        const float* src = static_cast<const float*>(p.table) + static_cast<int64_t>(p.ids[r] + p.id_offset) * p.dim;
        float* dst = static_cast<float*>(p.out) + r * p.dim;
        if (p.accumulate) {
            for (int64_t i = 0; i < p.dim; ++i) dst[i] += src[i];
        } else {
            std::memcpy(dst, src, static_cast<size_t>(p.dim) * sizeof(float));
        }
        if (p.pos_table != nullptr) {
            const float* pos = static_cast<const float*>(p.pos_table) + static_cast<int64_t>(p.pos_ids[r] + p.pos_offset) * p.dim;
            for (int64_t i = 0; i < p.dim; ++i) dst[i] += pos[i];
        }
    }
}

void CpuBackend::attention(const AttentionParams& p) {
    const int64_t hidden = static_cast<int64_t>(p.num_heads) * p.head_dim;
    const int64_t hd = p.head_dim;
    const int64_t work = static_cast<int64_t>(p.num_seqs) * p.num_heads;
    // One task per (sequence, head): each owns its cache rows and output columns, so no locking.
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
    for (int64_t task = 0; task < work; ++task) {
        const int32_t s = static_cast<int32_t>(task / p.num_heads);
        const int32_t h = static_cast<int32_t>(task % p.num_heads);
        const int32_t len = p.len[s], past = p.past[s];
        float* kc = static_cast<float*>(p.k_cache) + p.slot[s] * p.slot_stride + h * p.head_stride;
        float* vc = static_cast<float*>(p.v_cache) + p.slot[s] * p.slot_stride + h * p.head_stride;
        for (int32_t i = 0; i < len; ++i) {
            const float* row = static_cast<const float*>(p.qkv) + (p.q_start[s] + i) * p.qkv_stride;
            std::memcpy(kc + (past + i) * hd, row + hidden + h * hd, static_cast<size_t>(hd) * sizeof(float));
            std::memcpy(vc + (past + i) * hd, row + 2 * hidden + h * hd, static_cast<size_t>(hd) * sizeof(float));
        }
        thread_local std::vector<float> scores;
        thread_local std::vector<float> acc;
        scores.resize(static_cast<size_t>(past + len));
        acc.resize(static_cast<size_t>(hd));
        for (int32_t i = 0; i < len; ++i) {
            const float* q = static_cast<const float*>(p.qkv) + (p.q_start[s] + i) * p.qkv_stride + h * hd;
            const int32_t ctx = p.causal ? past + i + 1 : past + len;  // causal: keys 0..past+i
            float max_score = -INFINITY;
            for (int32_t j = 0; j < ctx; ++j) {
                const float* k = kc + j * hd;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int64_t d = 0; d < hd; ++d) dot += q[d] * k[d];
                scores[j] = dot * p.scale;
                max_score = std::max(max_score, scores[j]);
            }
            float denom = 0.0f;
            for (int32_t j = 0; j < ctx; ++j) {
                scores[j] = std::exp(scores[j] - max_score);
                denom += scores[j];
            }
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int32_t j = 0; j < ctx; ++j) {
                const float w = scores[j];
                const float* v = vc + j * hd;
#pragma omp simd
                for (int64_t d = 0; d < hd; ++d) acc[d] += w * v[d];
            }
            float* out = static_cast<float*>(p.out) + (p.q_start[s] + i) * p.out_stride + h * hd;
            const float inv = 1.0f / denom;
            for (int64_t d = 0; d < hd; ++d) out[d] = acc[d] * inv;
        }
    }
}

void CpuBackend::add(void* x_, const void* y_, int64_t n) {
    auto* x = static_cast<float*>(x_);
    const auto* y = static_cast<const float*>(y_);
#pragma omp parallel for simd num_threads(threads_) schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) {
    for (int64_t i = 0; i < count; ++i)
        std::memcpy(static_cast<float*>(dst) + i * dim, static_cast<const float*>(src) + static_cast<int64_t>(rows[i]) * dim,
                    static_cast<size_t>(dim) * sizeof(float));
}

void CpuBackend::sample(const SampleParams& p) {
    thread_local Sampler sampler;
    for (int64_t r = 0; r < p.rows; ++r)
        p.tokens[r] = sampler.sample(p.logits + r * p.ld, static_cast<int32_t>(p.vocab), p.sampling, p.rng_states[r]);
}

}  // namespace exg
