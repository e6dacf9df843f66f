// The host-side arithmetic of the cuBLASLt GEMMs (gemm_lt.cu), kept free of CUDA headers so the native
// tests check it on machines without a GPU: the row-major -> column-major mapping, the shape checks, the
// epilogue choice, pointer alignment classes and the per-shape cache key.
#pragma once

#include "core/error.h"
#include "core/splitmix.h"

#include <exegpt/exegpt.h>

#include <cstddef>
#include <cstdint>

namespace exg::cuda {

// A matrix as cuBLASLt stores it: column-major, element (r, c) at r + c * ld.
struct LtMatrix {
    uint64_t rows, cols;
    int64_t ld;
};

// cuBLASLt's problem D[m x n] = op(A)[m x k] * op(B)[k x n]; a, b, d describe the stored matrices
// (before op), which is what cublasLtMatrixLayoutCreate takes.
struct LtMapping {
    bool transa, transb;
    uint64_t m, n, k;
    LtMatrix a, b, d;
};

// The engine's out[m x n] = a[m x k] * w[n x k]^T (all row-major) seen column-major: a row-major X with
// leading dimension ld is the column-major X^T with the same ld, so out^T[n x m] = w * a^T where
//   - A = w: stored column-major as w^T, k x n (ld = ldw); op(A) = transpose gives w, n x k;
//   - B = a: stored column-major as a^T, k x m (ld = lda); op(B) = as stored;
//   - D = out: stored column-major as out^T, n x m (ld = ldo).
// cuBLASLt's (m, n, k) are therefore (n, m, k), and the epilogue's bias (one per row of D) is bias[n].
inline LtMapping map_row_major_gemm(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldw, int64_t ldo) {
    LtMapping r{};
    r.transa = true;
    r.transb = false;
    r.m = static_cast<uint64_t>(n);
    r.n = static_cast<uint64_t>(m);
    r.k = static_cast<uint64_t>(k);
    r.a = {static_cast<uint64_t>(k), static_cast<uint64_t>(n), ldw};
    r.b = {static_cast<uint64_t>(k), static_cast<uint64_t>(m), lda};
    r.d = {static_cast<uint64_t>(n), static_cast<uint64_t>(m), ldo};
    return r;
}

// Rejects shapes cuBLASLt would refuse with a bare INVALID_VALUE, naming the bad quantity. m = 0 is a
// valid empty GEMM (the caller skips it).
inline void check_gemm_shape(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldw, int64_t ldo) {
    require(m >= 0 && n > 0 && k > 0, EXG_ERR_INVALID_ARGUMENT, "GEMM shape m=", m, " n=", n, " k=", k,
            " (m must be >= 0, n and k > 0)");
    require(lda >= k, EXG_ERR_INVALID_ARGUMENT, "GEMM lda=", lda, " is below k=", k);
    require(ldw >= k, EXG_ERR_INVALID_ARGUMENT, "GEMM ldw=", ldw, " is below k=", k);
    require(ldo >= n, EXG_ERR_INVALID_ARGUMENT, "GEMM ldo=", ldo, " is below n=", n);
}

// The epilogues this engine uses (mapped onto cublasLtEpilogue_t in gemm_lt.cu).
enum class LtEpilogue : uint8_t { Default, Bias, Relu, ReluBias, Gelu, GeluBias };

inline bool epilogue_reads_bias(LtEpilogue e) {
    return e == LtEpilogue::Bias || e == LtEpilogue::ReluBias || e == LtEpilogue::GeluBias;
}

// What one GEMM runs: the cuBLASLt epilogue, then (when post_bias or post_activation >= 0) the
// bias_activation kernel over the output.
struct EpiloguePlan {
    LtEpilogue epilogue;
    bool post_bias;
    int32_t post_activation;  // exg_activation, or -1 for none
    bool operator==(const EpiloguePlan& o) const {
        return epilogue == o.epilogue && post_bias == o.post_bias && post_activation == o.post_activation;
    }
};

// The smallest bias alignment the fused bias epilogues get: cuBLASLt's alignment preferences cover A, B,
// C and D but not the bias, and its kernels have been seen to assume a 16-byte aligned bias and fault
// ("misaligned address") on a bias sliced out of a larger buffer (pytorch/pytorch#194497).
constexpr uint32_t kMinFusedBiasAlignment = 16;

// The fused plan: cuBLASLt applies bias, ReLU and the tanh GELU itself (its GELU epilogue is the tanh
// approximation; PyTorch relies on that for _addmm_activation: pytorch/pytorch#104061). The exact-erf
// GELU and SiLU have no epilogue: the bias still rides the GEMM (added in F32 before the one rounding to
// the output dtype) and only the activation runs in the kernel. An under-aligned bias goes to the kernel.
inline EpiloguePlan fused_epilogue(bool has_bias, int32_t activation, uint32_t bias_alignment) {
    if (has_bias && bias_alignment < kMinFusedBiasAlignment) return {LtEpilogue::Default, true, activation};
    switch (activation) {
        case EXG_ACT_RELU: return {has_bias ? LtEpilogue::ReluBias : LtEpilogue::Relu, false, -1};
        case EXG_ACT_GELU_TANH: return {has_bias ? LtEpilogue::GeluBias : LtEpilogue::Gelu, false, -1};
        case EXG_ACT_GELU:
        case EXG_ACT_SILU: return {has_bias ? LtEpilogue::Bias : LtEpilogue::Default, false, activation};
        default: return {has_bias ? LtEpilogue::Bias : LtEpilogue::Default, false, -1};
    }
}

// The fallback when cuBLASLt has no algorithm for the fused plan (e.g. a bias type it does not pair with
// an F32 output): a plain GEMM, then bias and activation in the kernel.
inline EpiloguePlan unfused_epilogue(bool has_bias, int32_t activation) {
    return {LtEpilogue::Default, has_bias, activation};
}

inline bool valid_activation(int32_t activation) { return activation >= -1 && activation <= EXG_ACT_SILU; }

// The alignment cuBLASLt can assume for a pointer: its largest power-of-two divisor, capped at 256 (the
// heuristic's default and the largest alignment it asks for). A null pointer (no bias) counts as 256.
inline uint32_t alignment_class(const void* p) {
    const auto addr = reinterpret_cast<uintptr_t>(p);
    if (addr == 0) return 256;
    const uintptr_t lowest = addr & (~addr + 1);
    return lowest >= 256 ? 256u : static_cast<uint32_t>(lowest);
}

// Everything an algorithm choice depends on: the heuristic sees the types, shape, leading dimensions,
// epilogue and the pointers' alignment, so two GEMMs with equal keys can share descriptors and algorithm.
struct GemmKey {
    int32_t dtype;
    int32_t out_f32;
    int64_t m, n, k, lda, ldw, ldo;
    int32_t activation;
    int32_t has_bias;
    uint32_t align_a, align_w, align_out, align_bias;

    bool operator==(const GemmKey& o) const {
        return dtype == o.dtype && out_f32 == o.out_f32 && m == o.m && n == o.n && k == o.k && lda == o.lda &&
               ldw == o.ldw && ldo == o.ldo && activation == o.activation && has_bias == o.has_bias &&
               align_a == o.align_a && align_w == o.align_w && align_out == o.align_out &&
               align_bias == o.align_bias;
    }
};

struct GemmKeyHash {
    size_t operator()(const GemmKey& key) const {
        uint64_t h = 0;
        const auto mix = [&h](uint64_t v) { h = splitmix_finalize(h ^ (v + kSplitMixIncrement)); };
        mix(static_cast<uint64_t>(key.dtype) | static_cast<uint64_t>(key.out_f32) << 8 |
            static_cast<uint64_t>(key.activation + 1) << 16 | static_cast<uint64_t>(key.has_bias) << 24);
        mix(static_cast<uint64_t>(key.m));
        mix(static_cast<uint64_t>(key.n));
        mix(static_cast<uint64_t>(key.k));
        mix(static_cast<uint64_t>(key.lda));
        mix(static_cast<uint64_t>(key.ldw));
        mix(static_cast<uint64_t>(key.ldo));
        mix(static_cast<uint64_t>(key.align_a) | static_cast<uint64_t>(key.align_w) << 16 |
            static_cast<uint64_t>(key.align_out) << 32 | static_cast<uint64_t>(key.align_bias) << 48);
        return static_cast<size_t>(h);
    }
};

// The one workspace every cuBLASLt call shares: Hopper's fast kernels (and split-K) want up to 32 MiB;
// 4 MiB covers every algorithm cuBLASLt's heuristic ranks first on Ampere/Ada.
inline size_t lt_workspace_bytes(int compute_capability_major) {
    return (compute_capability_major >= 9 ? size_t{32} : size_t{4}) << 20;
}

// EXEGPT_GEMM_AUTOTUNE=1 times the heuristic's candidates on first use of a shape; anything else (or
// unset) keeps the heuristic's first choice, which is deterministic.
inline bool autotune_requested(const char* env_value) {
    return env_value != nullptr && env_value[0] == '1' && env_value[1] == '\0';
}

}  // namespace exg::cuda
