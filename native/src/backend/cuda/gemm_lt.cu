// cuBLASLt GEMMs with fused epilogues; what the epilogues cannot do runs bias_activation (bias_activation.cu).
// The layout mapping, shape checks, epilogue choice and cache key are in gemm_layout.h (tested on the CPU).
//
// Thread-safety: one LtGemm per backend, used by one thread at a time (the backend's rank thread). run()
// mutates the plan cache and the cached descriptors (the bias pointer), so it must not be entered
// concurrently; cuBLASLt's handle itself is shared by nothing else.
#include "backend/cuda/gemm_lt.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/gemm_layout.h"
#include "core/error.h"

#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <vector>

namespace exg::cuda {

// ---------------------------------------------------------------------------------------------------------
// LtGemm
// ---------------------------------------------------------------------------------------------------------
namespace {

// Candidates the heuristic is asked for when autotuning, and timed repetitions per candidate.
constexpr int kAutotuneCandidates = 8;
constexpr int kAutotuneReps = 10;  // enough to average out event resolution on decode-sized GEMMs

[[noreturn]] void fail_lt(cublasStatus_t status, const char* call, const GemmLaunch& p) {
    fail(status == CUBLAS_STATUS_ALLOC_FAILED ? EXG_ERR_OUT_OF_MEMORY : EXG_ERR_DEVICE, call, " failed with ",
         cublasLtGetStatusName(status), " (", cublasLtGetStatusString(status), ") for the GEMM m=", p.m, " n=", p.n,
         " k=", p.k);
}

void check_lt(cublasStatus_t status, const char* call, const GemmLaunch& p) {
    if (status != CUBLAS_STATUS_SUCCESS) fail_lt(status, call, p);
}


cudaDataType_t cuda_type(DType dtype) { return dtype == DType::F16 ? CUDA_R_16F : CUDA_R_16BF; }

const char* dtype_name(DType dtype) { return dtype == DType::F16 ? "f16" : "bf16"; }

cublasLtEpilogue_t lt_epilogue(LtEpilogue e) {
    switch (e) {
        case LtEpilogue::Default: return CUBLASLT_EPILOGUE_DEFAULT;
        case LtEpilogue::Bias: return CUBLASLT_EPILOGUE_BIAS;
        case LtEpilogue::Relu: return CUBLASLT_EPILOGUE_RELU;
        case LtEpilogue::ReluBias: return CUBLASLT_EPILOGUE_RELU_BIAS;
        case LtEpilogue::Gelu: return CUBLASLT_EPILOGUE_GELU;
        case LtEpilogue::GeluBias: return CUBLASLT_EPILOGUE_GELU_BIAS;
    }
    return CUBLASLT_EPILOGUE_DEFAULT;
}

// One cached GEMM: descriptors, the algorithm, and what runs after it. Owns its cuBLASLt objects.
struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;  // cuBLASLt's A (= w), B (= a), C = D (= out)
    cublasLtMatmulAlgo_t algo{};
    EpiloguePlan epilogue{};

    Plan() = default;
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;
    ~Plan() {
        // Destroy calls only free host memory; their status is of no use here.
        if (d != nullptr) cublasLtMatrixLayoutDestroy(d);
        if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
        if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
        if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
    }
};

struct Preference {
    cublasLtMatmulPreference_t pref = nullptr;
    ~Preference() {
        if (pref != nullptr) cublasLtMatmulPreferenceDestroy(pref);
    }
};

struct EventPair {
    cudaEvent_t start = nullptr, stop = nullptr;
    ~EventPair() {
        if (stop != nullptr) cudaEventDestroy(stop);
        if (start != nullptr) cudaEventDestroy(start);
    }
};

}  // namespace

// The plan cache holds one entry per distinct GemmKey. Decode steps reuse a handful of shapes; prefill
// token counts vary, so entries accumulate over a run (host memory only: four small descriptors each, and
// one heuristic query, tens of microseconds, on first use).
struct LtGemm::Impl {
    cublasLtHandle_t handle = nullptr;
    void* workspace = nullptr;
    size_t workspace_bytes = 0;
    bool autotune = false;
    std::unordered_map<GemmKey, std::unique_ptr<Plan>, GemmKeyHash> plans;

    // Descriptors and layouts for p under epilogue plan e (the algorithm is chosen afterwards).
    std::unique_ptr<Plan> describe(const GemmLaunch& p, const EpiloguePlan& e) const {
        auto plan = std::make_unique<Plan>();
        plan->epilogue = e;
        const LtMapping map = map_row_major_gemm(p.m, p.n, p.k, p.lda, p.ldw, p.ldo);
        const cudaDataType_t in_type = cuda_type(p.dtype);
        const cudaDataType_t out_type = p.out_f32 ? CUDA_R_32F : in_type;

        // F32 accumulation and F32 alpha/beta whatever the storage type.
        check_lt(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate", p);
        const cublasOperation_t transa = map.transa ? CUBLAS_OP_T : CUBLAS_OP_N;
        const cublasOperation_t transb = map.transb ? CUBLAS_OP_T : CUBLAS_OP_N;
        check_lt(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof(transa)),
                 "cublasLtMatmulDescSetAttribute(TRANSA)", p);
        check_lt(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof(transb)),
                 "cublasLtMatmulDescSetAttribute(TRANSB)", p);
        const cublasLtEpilogue_t epilogue = lt_epilogue(e.epilogue);
        check_lt(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)),
                 "cublasLtMatmulDescSetAttribute(EPILOGUE)", p);
        if (epilogue_reads_bias(e.epilogue)) {
            // The bias is in the storage dtype even when D is F32 (the default bias type is D's type), so
            // it is named explicitly. The heuristic reads the pointer's alignment from this attribute, so it
            // is set before the heuristic runs (and again before every launch).
            const cudaDataType_t bias_type = in_type;
            check_lt(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                    sizeof(bias_type)),
                     "cublasLtMatmulDescSetAttribute(BIAS_DATA_TYPE)", p);
            check_lt(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias,
                                                    sizeof(p.bias)),
                     "cublasLtMatmulDescSetAttribute(BIAS_POINTER)", p);
        }
        check_lt(cublasLtMatrixLayoutCreate(&plan->a, in_type, map.a.rows, map.a.cols, map.a.ld),
                 "cublasLtMatrixLayoutCreate(w)", p);
        check_lt(cublasLtMatrixLayoutCreate(&plan->b, in_type, map.b.rows, map.b.cols, map.b.ld),
                 "cublasLtMatrixLayoutCreate(a)", p);
        check_lt(cublasLtMatrixLayoutCreate(&plan->d, out_type, map.d.rows, map.d.cols, map.d.ld),
                 "cublasLtMatrixLayoutCreate(out)", p);
        return plan;
    }

    // Up to `wanted` algorithms for plan, best first by cuBLASLt's ranking. Empty when cuBLASLt has none
    // or refuses the configuration (NOT_SUPPORTED, INVALID_VALUE: e.g. an epilogue or bias type it does not
    // pair with these types), with the heuristic's status in `status`; other failures throw.
    std::vector<cublasLtMatmulHeuristicResult_t> candidates(const Plan& plan, const GemmLaunch& p, int wanted,
                                                            cublasStatus_t& status) const {
        Preference pref;
        check_lt(cublasLtMatmulPreferenceCreate(&pref.pref), "cublasLtMatmulPreferenceCreate", p);
        const uint64_t max_workspace = workspace_bytes;
        check_lt(cublasLtMatmulPreferenceSetAttribute(pref.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &max_workspace, sizeof(max_workspace)),
                 "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", p);
        // Sub-tensor views (qkv thirds, row offsets) may be less aligned than cudaMalloc's 256 bytes: tell
        // the heuristic, which otherwise assumes 256 and may pick kernels that fault on them.
        const uint32_t align_a = alignment_class(p.w), align_b = alignment_class(p.a), align_d = alignment_class(p.out);
        check_lt(cublasLtMatmulPreferenceSetAttribute(pref.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                                      sizeof(align_a)),
                 "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_A_BYTES)", p);
        check_lt(cublasLtMatmulPreferenceSetAttribute(pref.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                                      sizeof(align_b)),
                 "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_B_BYTES)", p);
        check_lt(cublasLtMatmulPreferenceSetAttribute(pref.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d,
                                                      sizeof(align_d)),
                 "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_C_BYTES)", p);
        check_lt(cublasLtMatmulPreferenceSetAttribute(pref.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d,
                                                      sizeof(align_d)),
                 "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_D_BYTES)", p);

        std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(wanted));
        int returned = 0;
        status = cublasLtMatmulAlgoGetHeuristic(handle, plan.desc, plan.a, plan.b, plan.d, plan.d, pref.pref, wanted,
                                                results.data(), &returned);
        if (status == CUBLAS_STATUS_NOT_SUPPORTED || status == CUBLAS_STATUS_INVALID_VALUE) returned = 0;
        else check_lt(status, "cublasLtMatmulAlgoGetHeuristic", p);
        results.resize(static_cast<size_t>(returned));
        results.erase(std::remove_if(results.begin(), results.end(),
                                     [this](const cublasLtMatmulHeuristicResult_t& r) {
                                         return r.state != CUBLAS_STATUS_SUCCESS || r.workspaceSize > workspace_bytes;
                                     }),
                      results.end());
        return results;
    }

    cublasStatus_t matmul(const Plan& plan, const cublasLtMatmulAlgo_t& algo, const GemmLaunch& p,
                          cudaStream_t stream) const {
        // beta = 0: C is not read, so C aliases D (same pointer, same layout).
        const float alpha = 1.0f, beta = 0.0f;
        return cublasLtMatmul(handle, plan.desc, &alpha, p.w, plan.a, p.a, plan.b, &beta, p.out, plan.d, p.out, plan.d,
                              &algo, workspace, workspace_bytes, stream);
    }

    // The fastest of the candidates by CUDA events (EXEGPT_GEMM_AUTOTUNE=1 only): each runs once to warm up,
    // then kAutotuneReps times timed, on the caller's stream and buffers (out is overwritten; run() writes
    // it again afterwards). Synchronises the stream once per candidate, on a shape's first use only.
    // Candidates cuBLASLt refuses at launch are skipped; under stream capture no timing is possible and
    // the heuristic's first choice stands.
    size_t fastest(const Plan& plan, const std::vector<cublasLtMatmulHeuristicResult_t>& found, const GemmLaunch& p,
                   cudaStream_t stream) const {
        cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
        check(cudaStreamIsCapturing(stream, &capture), "cudaStreamIsCapturing");
        if (found.size() < 2 || capture != cudaStreamCaptureStatusNone) return 0;
        EventPair events;
        check(cudaEventCreate(&events.start), "cudaEventCreate");
        check(cudaEventCreate(&events.stop), "cudaEventCreate");
        size_t best = 0;
        float best_ms = 0.0f;
        bool timed_any = false;
        for (size_t i = 0; i < found.size(); ++i) {
            if (matmul(plan, found[i].algo, p, stream) != CUBLAS_STATUS_SUCCESS) continue;
            check(cudaEventRecord(events.start, stream), "cudaEventRecord");
            bool ok = true;
            for (int r = 0; r < kAutotuneReps && ok; ++r) {
                ok = matmul(plan, found[i].algo, p, stream) == CUBLAS_STATUS_SUCCESS;
            }
            check(cudaEventRecord(events.stop, stream), "cudaEventRecord");
            check(cudaEventSynchronize(events.stop), "cudaEventSynchronize");
            if (!ok) continue;
            float ms = 0.0f;
            check(cudaEventElapsedTime(&ms, events.start, events.stop), "cudaEventElapsedTime");
            if (!timed_any || ms < best_ms) {
                best = i;
                best_ms = ms;
                timed_any = true;
            }
        }
        return best;
    }

    // The plan for p under epilogue plan e with its algorithm chosen, or null when cuBLASLt has none.
    std::unique_ptr<Plan> try_build(const GemmLaunch& p, const EpiloguePlan& e, cudaStream_t stream,
                                    cublasStatus_t& status) const {
        auto plan = describe(p, e);
        const auto found = candidates(*plan, p, autotune ? kAutotuneCandidates : 1, status);
        if (found.empty()) return nullptr;
        plan->algo = found[autotune ? fastest(*plan, found, p, stream) : 0].algo;
        return plan;
    }

    // The fused epilogue when cuBLASLt has an algorithm for it, else the plain GEMM followed by the
    // bias_activation kernel; an Error naming the GEMM when neither exists.
    std::unique_ptr<Plan> build(const GemmLaunch& p, cudaStream_t stream) const {
        const EpiloguePlan fused = fused_epilogue(p.bias != nullptr, p.activation, alignment_class(p.bias));
        const EpiloguePlan unfused = unfused_epilogue(p.bias != nullptr, p.activation);
        cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
        auto plan = try_build(p, fused, stream, status);
        if (plan == nullptr && !(unfused == fused)) plan = try_build(p, unfused, stream, status);
        if (plan != nullptr) return plan;
        fail(EXG_ERR_UNSUPPORTED, "cuBLASLt has no algorithm (heuristic: ", cublasLtGetStatusName(status),
             ") for the GEMM m=", p.m, " n=", p.n, " k=", p.k, " (lda=", p.lda, " ldw=", p.ldw, " ldo=", p.ldo, ", ",
             dtype_name(p.dtype), " in, ",
             p.out_f32 ? "f32" : dtype_name(p.dtype), " out, alignment a/w/out/bias = ", alignment_class(p.a), "/",
             alignment_class(p.w), "/", alignment_class(p.out), "/", alignment_class(p.bias), " bytes, ",
             workspace_bytes, " bytes of workspace)");
    }

    ~Impl() {
        plans.clear();  // descriptors before the handle
        if (handle != nullptr) cublasLtDestroy(handle);
    }
};

size_t gemm_workspace_bytes(int compute_capability_major) { return lt_workspace_bytes(compute_capability_major); }

LtGemm::LtGemm(void* workspace, size_t workspace_bytes) : impl_(std::make_unique<Impl>()) {
    impl_->workspace = workspace;
    impl_->workspace_bytes = workspace != nullptr ? workspace_bytes : 0;
    impl_->autotune = autotune_requested(std::getenv("EXEGPT_GEMM_AUTOTUNE"));
    const cublasStatus_t status = cublasLtCreate(&impl_->handle);
    if (status != CUBLAS_STATUS_SUCCESS) {
        fail(status == CUBLAS_STATUS_ALLOC_FAILED ? EXG_ERR_OUT_OF_MEMORY : EXG_ERR_DEVICE,
             "cublasLtCreate failed with ", cublasLtGetStatusName(status), " (", cublasLtGetStatusString(status), ")");
    }
}

LtGemm::~LtGemm() = default;

void LtGemm::run(const GemmLaunch& p, cudaStream_t stream) {
    check_storage_dtype(p.dtype, "GEMM");
    require(valid_activation(p.activation), EXG_ERR_INVALID_ARGUMENT, "GEMM: unknown activation ", p.activation);
    check_gemm_shape(p.m, p.n, p.k, p.lda, p.ldw, p.ldo);
    if (p.m == 0) return;
    require(p.a != nullptr && p.w != nullptr && p.out != nullptr, EXG_ERR_INVALID_ARGUMENT, "GEMM m=", p.m, " n=", p.n,
            " k=", p.k, ": a, w and out must be non-null");

    const GemmKey key{static_cast<int32_t>(p.dtype), p.out_f32 != 0, p.m, p.n, p.k, p.lda, p.ldw, p.ldo, p.activation,
                      p.bias != nullptr, alignment_class(p.a), alignment_class(p.w), alignment_class(p.out),
                      alignment_class(p.bias)};
    auto it = impl_->plans.find(key);
    if (it == impl_->plans.end()) it = impl_->plans.emplace(key, impl_->build(p, stream)).first;
    const Plan& plan = *it->second;

    if (epilogue_reads_bias(plan.epilogue.epilogue)) {
        // Same shape, another layer: only the bias pointer differs (its alignment class is in the key).
        check_lt(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof(p.bias)),
                 "cublasLtMatmulDescSetAttribute(BIAS_POINTER)", p);
    }
    check_lt(impl_->matmul(plan, plan.algo, p, stream), "cublasLtMatmul", p);

    const EpiloguePlan& e = plan.epilogue;
    if (!e.post_bias && e.post_activation < 0) return;
    const void* bias = e.post_bias ? p.bias : nullptr;
    if (p.out_f32) bias_activation_f32(p.dtype, static_cast<float*>(p.out), p.m, p.n, p.ldo, bias, e.post_activation, stream);
    else bias_activation(p.dtype, p.out, p.m, p.n, p.ldo, bias, e.post_activation, stream);
}

}  // namespace exg::cuda
