// The internal backend interface: every op the transformer runs, on memory the backend owns.
// The transformer (model/transformer.cpp) is written once against it; the CPU backend is the
// reference and the CUDA backend (a separate shared library, loaded at run time) implements the same
// ops. Parameters are plain structs of pointers, sizes and strides (FlashInfer-style) so a backend
// built by another compiler needs no C++ standard-library types across the seam; workspaces are owned
// by the caller (the model), never allocated inside an op.
#pragma once

#include <cstddef>
#include <cstdint>

namespace exg {

// out[m x n] = act(a[m x k] * w[n x k]^T + bias[n]); row-major, weights in Hugging Face [out, in] layout.
struct GemmParams {
    int64_t m, n, k;
    const float* a;
    int64_t lda;
    const float* w;
    int64_t ldw;
    const float* bias;  // may be null
    float* out;
    int64_t ldo;
    int32_t activation;  // exg_activation, or -1 for none
};

// out = LayerNorm(x) per row; gamma/beta may be null (layer_norm_elementwise_affine = false).
struct LayerNormParams {
    int64_t rows, dim;
    const float* x;
    const float* gamma;
    const float* beta;
    float* out;
    float eps;
};

// out[i] = table[ids[i] + id_offset] (accumulate: out[i] += ...); ids live in host memory.
struct EmbeddingParams {
    int64_t rows, dim;
    const int32_t* ids;
    int32_t id_offset;
    const float* table;
    float* out;
    int32_t accumulate;
};

// Causal self-attention over a ragged batch with a KV cache. Sequence s owns rows
// [q_start[s], q_start[s] + len[s]) of qkv/out and writes its new keys/values at positions
// [past[s], past[s] + len[s]) of cache slot slot[s] before attending to all past[s] + i + 1 keys.
// qkv rows hold q (heads*head_dim), then k, then v. Cache index of (slot, head, pos, d):
// slot * slot_stride + head * head_stride + pos * head_dim + d. Host arrays: slot, q_start, len, past.
struct AttentionParams {
    int32_t num_seqs;
    const int32_t* slot;
    const int32_t* q_start;
    const int32_t* len;
    const int32_t* past;
    const float* qkv;
    int64_t qkv_stride;
    float* out;
    int64_t out_stride;
    float* k_cache;
    float* v_cache;
    int64_t slot_stride;
    int64_t head_stride;
    int32_t num_heads;
    int32_t head_dim;
    float scale;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const = 0;

    // Device memory (host memory on the CPU backend). alloc throws on failure.
    virtual void* alloc(size_t bytes) = 0;
    virtual void free(void* p) noexcept = 0;
    // Bytes alloc could still hand out (0: unknown), checked before large allocations so an
    // impossible model or cache is refused with a message instead of being killed by the OS.
    virtual size_t available_memory() const = 0;
    // Host memory for the runner's zero-copy path: page-locked where the backend can.
    virtual void* alloc_host(size_t bytes) = 0;
    virtual void free_host(void* p) noexcept = 0;
    virtual void upload(void* dst, const void* src, size_t bytes) = 0;
    virtual void download(void* dst, const void* src, size_t bytes) = 0;
    virtual void copy(void* dst, const void* src, size_t bytes) = 0;
    virtual void synchronize() = 0;

    virtual void gemm(const GemmParams& p) = 0;
    virtual void layer_norm(const LayerNormParams& p) = 0;
    virtual void embedding(const EmbeddingParams& p) = 0;
    virtual void attention(const AttentionParams& p) = 0;
    virtual void add(float* x, const float* y, int64_t n) = 0;  // x += y
    // dst[i] = src[rows[i]] for i < count; rows[] in host memory.
    virtual void gather_rows(float* dst, const float* src, const int32_t* rows, int64_t count, int64_t dim) = 0;
};

// Fails with EXG_ERR_OUT_OF_MEMORY naming `what` when `bytes` exceed what the backend has free.
void ensure_memory(const Backend& backend, size_t bytes, const char* what);

// Device memory owned by a backend, released on destruction.
class Buffer {
public:
    Buffer() = default;
    Buffer(Backend* backend, size_t bytes) : backend_(backend), bytes_(bytes), ptr_(bytes ? backend->alloc(bytes) : nullptr) {}
    ~Buffer() { reset(); }
    Buffer(Buffer&& o) noexcept : backend_(o.backend_), bytes_(o.bytes_), ptr_(o.ptr_) { o.ptr_ = nullptr; o.bytes_ = 0; }
    Buffer& operator=(Buffer&& o) noexcept {
        if (this != &o) {
            reset();
            backend_ = o.backend_;
            bytes_ = o.bytes_;
            ptr_ = o.ptr_;
            o.ptr_ = nullptr;
            o.bytes_ = 0;
        }
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    void reset() noexcept {
        if (ptr_ != nullptr) backend_->free(ptr_);
        ptr_ = nullptr;
        bytes_ = 0;
    }
    // Grows (never shrinks) so steady-state steps reuse the same memory.
    void ensure(Backend* backend, size_t bytes) {
        if (bytes <= bytes_) return;
        reset();
        backend_ = backend;
        ptr_ = backend->alloc(bytes);
        bytes_ = bytes;
    }
    float* f32() const { return static_cast<float*>(ptr_); }
    void* data() const { return ptr_; }
    size_t bytes() const { return bytes_; }

private:
    Backend* backend_ = nullptr;
    size_t bytes_ = 0;
    void* ptr_ = nullptr;
};

}  // namespace exg
