// The CPU backend: FP32, GEMMs through CBLAS (OpenBLAS), everything else hand-written and
// parallelised with OpenMP over the caller's thread count. It is the reference the other backends
// are checked against, so clarity wins over cleverness where the two conflict.
#pragma once

#include "backend/backend.h"

namespace exg {

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(int num_threads);
    const char* name() const override { return "cpu"; }
    int num_threads() const { return threads_; }

    void* alloc(size_t bytes) override;
    size_t available_memory() const override;
    void free(void* p) noexcept override;
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

private:
    int threads_;
};

}  // namespace exg
