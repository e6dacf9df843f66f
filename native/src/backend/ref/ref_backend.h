// The reference backend: every op as the plainest possible loops, one thread, double accumulation.
// It is the independent yardstick the op-parity harness holds every real backend (CPU, CUDA) to, so
// it shares no code with them but the definition of the sampling streams (core/splitmix.h), and never
// optimises.
#pragma once

#include "backend/backend.h"

namespace exg {

// An EXG_ACT_* activation by its defining formula, in double; the identity for any other value.
double ref_activate(double x, int32_t act);

class RefBackend final : public Backend {
public:
    const char* name() const override { return "ref"; }

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
    void device_info(exg_device_info& out) const override;

    void gemm(const GemmParams& p) override;
    void layer_norm(const LayerNormParams& p) override;
    void embedding(const EmbeddingParams& p) override;
    void attention(const AttentionParams& p) override;
    void add(void* x, const void* y, int64_t n) override;
    void gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) override;
    void sample(const SampleParams& p) override;
};

}  // namespace exg
