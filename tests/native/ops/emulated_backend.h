// A host backend that stores F16 or BF16 the way a GPU backend does and computes every op in F32 on the
// CPU backend, rounding where a GPU backend may round: it lets the harness's 16-bit paths (element sizes,
// conversions, tolerances, exact cache checks) be tested on machines without a GPU. Test code only; it
// is no model of any kernel's arithmetic beyond the roundings listed in emulated_backend.cpp.
#pragma once

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"

#include <vector>

namespace exg::ops {

class EmulatedHalfBackend : public Backend {
public:
    explicit EmulatedHalfBackend(exg_dtype dtype);  // EXG_DTYPE_F16 or EXG_DTYPE_BF16
    const char* name() const override { return dtype_ == EXG_DTYPE_F16 ? "emulated-f16" : "emulated-bf16"; }
    exg_dtype dtype() const override { return dtype_; }
    void device_info(exg_device_info& out) const override;

    void* alloc(size_t bytes) override;
    void free(void* p) noexcept override;
    size_t available_memory() const override { return 0; }
    void* alloc_host(size_t bytes) override { return alloc(bytes); }
    void free_host(void* p) noexcept override { free(p); }
    void upload(void* dst, const void* src, size_t bytes) override;
    void download(void* dst, const void* src, size_t bytes) override;
    void copy(void* dst, const void* src, size_t bytes) override;
    void upload_f32(void* dst, const float* src, int64_t count) override;
    void download_f32(float* dst, const void* src, int64_t count) override;
    void synchronize() override {}

    void gemm(const GemmParams& p) override;
    void layer_norm(const LayerNormParams& p) override;
    void embedding(const EmbeddingParams& p) override;
    void attention(const AttentionParams& p) override;
    void add(void* x, const void* y, int64_t n) override;
    void gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) override;
    void sample(const SampleParams& p) override;

protected:
    // count storage-dtype elements at p as F32, and back (rounding to nearest even).
    std::vector<float> widen(const void* p, int64_t count) const;
    void narrow(void* p, const std::vector<float>& values) const;
    CpuBackend& cpu() { return cpu_; }

private:
    exg_dtype dtype_;
    CpuBackend cpu_{1};
};

}  // namespace exg::ops
