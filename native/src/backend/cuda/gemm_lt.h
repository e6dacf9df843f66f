// GEMMs through cuBLASLt: out[m x n] = act(a[m x k] * w[n x k]^T + bias[n]) in the engine's row-major,
// Hugging Face [out, in] weight layout, F16/BF16 in, F32 accumulation, out in the storage dtype or F32.
// Bias, bias+ReLU and bias+GELU(tanh) ride cuBLASLt epilogues; the exact-erf GELU and SiLU run the
// bias_activation kernel after the GEMM (whose epilogue still adds the bias), and so does everything when
// cuBLASLt has no algorithm for the fused epilogue or the bias is under 16-byte aligned. Algorithms come
// from cuBLASLt's heuristic once per shape and are cached; every GEMM shares the one caller-owned
// workspace. EXEGPT_GEMM_AUTOTUNE=1 instead times up to 8 heuristic candidates on a shape's first use and
// keeps the fastest (off by default: the first choice is deterministic; the GPU benchmark turns it on).
#pragma once

#include "backend/cuda/kernels.h"

#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace exg::cuda {

// backend.h's GemmParams plus the storage dtype of a, w and bias, and of out unless out_f32.
struct GemmLaunch : GemmParams {
    DType dtype;
};

// The workspace cuBLASLt gets: 32 MiB on Hopper (sm_90+), 4 MiB before.
size_t gemm_workspace_bytes(int compute_capability_major);

class LtGemm {
public:
    // workspace: device memory of workspace_bytes that outlives this object (owned by the backend).
    LtGemm(void* workspace, size_t workspace_bytes);
    ~LtGemm();
    LtGemm(const LtGemm&) = delete;
    LtGemm& operator=(const LtGemm&) = delete;

    // Enqueues on stream; throws Error(EXG_ERR_DEVICE) naming the cuBLASLt call and the shape.
    void run(const GemmLaunch& p, cudaStream_t stream);

private:
    struct Impl;  // the handle and the per-shape algorithm cache
    std::unique_ptr<Impl> impl_;
};

}  // namespace exg::cuda
