// The internal backend interface: every op the transformer runs, on memory the backend owns.
// The transformer (model/transformer.cpp) is written once against it; the CPU backend is the
// reference and the CUDA backend (a separate shared library, loaded at run time) implements the same
// ops. Parameters are plain structs of pointers, sizes and strides (FlashInfer-style) so a backend
// built by another compiler needs no C++ standard-library types across the seam; workspaces are owned
// by the caller (the model), never allocated inside an op.
//
// Tensors are untyped (void*): every weight, activation and KV-cache element is stored in the
// backend's storage dtype (dtype(): F32 on the CPU, F16 or BF16 on CUDA) and every op accumulates in
// F32. The few tensors that are always F32 say so (logits, sampling input). Element counts and strides
// are in elements, byte counts say "bytes". Arrays documented as "host" live in host memory (batch
// metadata the transformer builds per step); a device backend stages them itself.
#pragma once

#include <exegpt/exegpt.h>

#include <cstddef>
#include <cstdint>

namespace exg {

// out[m x n] = act(a[m x k] * w[n x k]^T + bias[n]); row-major, weights in Hugging Face [out, in] layout.
struct GemmParams {
    int64_t m, n, k;
    const void* a;
    int64_t lda;
    const void* w;
    int64_t ldw;
    const void* bias;  // may be null
    void* out;
    int64_t ldo;
    int32_t activation;  // exg_activation, or -1 for none
    int32_t out_f32;     // 1: out is F32 whatever the storage dtype (the LM head's logits)
};

// Per row: out = norm(x) * gamma + beta, where norm is LayerNorm ((x - mean) / sqrt(var + eps)) or,
// with rms set, RMSNorm (x / sqrt(mean(x^2) + eps); beta must then be null). gamma/beta may be null
// (layer_norm_elementwise_affine = false). When residual is non-null the op first does
// x += residual in place (the fused residual-add + norm), then normalises the sum. out may alias x
// only when residual is null.
struct LayerNormParams {
    int64_t rows, dim;
    void* x;
    const void* residual;  // may be null
    const void* gamma;
    const void* beta;
    void* out;
    float eps;
    int32_t rms;
};

// out[i] = table[ids[i] + id_offset] (+ positions[pos_ids[i] + pos_offset] when pos_table is non-null,
// both dim wide: embedding + learned positions in one pass); accumulate: out[i] += ... instead of =.
// ids and pos_ids live in host memory.
struct EmbeddingParams {
    int64_t rows, dim;
    const int32_t* ids;
    int32_t id_offset;
    const void* table;
    const int32_t* pos_ids;  // host; used when pos_table is non-null
    int32_t pos_offset;
    const void* pos_table;   // may be null
    void* out;
    int32_t accumulate;
};

// Causal self-attention over a ragged batch with a KV cache. Sequence s owns rows
// [q_start[s], q_start[s] + len[s]) of qkv/out and writes its new keys/values at positions
// [past[s], past[s] + len[s]) of cache slot slot[s] before attending to all past[s] + i + 1 keys.
// qkv rows hold q (heads*head_dim), then k, then v. Cache index of (slot, head, pos, d):
// slot * slot_stride + head * head_stride + pos * head_dim + d. Host arrays: slot, q_start, len, past.
// decode: every len is 1 (the backend may take its decode path). causal = 0 (an encoder's bidirectional
// attention): every row of sequence s attends to all past[s] + len[s] keys instead.
struct AttentionParams {
    int32_t num_seqs;
    const int32_t* slot;
    const int32_t* q_start;
    const int32_t* len;
    const int32_t* past;
    const void* qkv;
    int64_t qkv_stride;
    void* out;
    int64_t out_stride;
    void* k_cache;
    void* v_cache;
    int64_t slot_stride;
    int64_t head_stride;
    int32_t num_heads;
    int32_t head_dim;
    float scale;
    int32_t decode;
    int32_t causal;
};

// One token per row of F32 logits [rows x vocab] (backend memory), by the engine's sampling rule
// (sampling/sampler.cpp): greedy = the lowest index among the maxima; unrestricted temperature
// sampling walks the vocabulary in index order; with top-k or top-p it walks the descending order
// (ties: lower index first), cut to k, then to the smallest prefix reaching top_p. One uniform per
// non-greedy row from its counter-based stream. rng_states and tokens are host arrays; rng_states[r]
// advances exactly as exg_sample advances it.
struct SampleParams {
    int64_t rows, vocab;
    const float* logits;
    int64_t ld;
    exg_sampling_params sampling;
    uint64_t* rng_states;
    int32_t* tokens;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const = 0;
    // The storage dtype of weights, activations and the KV cache.
    virtual exg_dtype dtype() const { return EXG_DTYPE_F32; }
    size_t element_size() const { return dtype() == EXG_DTYPE_F32 ? 4 : 2; }
    // Fills everything but struct_size (the caller sets it).
    virtual void device_info(exg_device_info& out) const = 0;

    // Device memory (host memory on the CPU backend). alloc throws on failure.
    virtual void* alloc(size_t bytes) = 0;
    virtual void free(void* p) noexcept = 0;
    // Bytes alloc could still hand out (0: unknown), checked before large allocations so an
    // impossible model or cache is refused with a message instead of being killed by the OS.
    virtual size_t available_memory() const = 0;
    // Host memory for the runner's zero-copy path: page-locked where the backend can.
    virtual void* alloc_host(size_t bytes) = 0;
    virtual void free_host(void* p) noexcept = 0;
    // Raw byte copies between host and backend memory, and within backend memory. A download
    // returns with the bytes in place (ordered after every op enqueued before it).
    virtual void upload(void* dst, const void* src, size_t bytes) = 0;
    virtual void download(void* dst, const void* src, size_t bytes) = 0;
    virtual void copy(void* dst, const void* src, size_t bytes) = 0;
    // Strided variants (height rows of width bytes; pitches in bytes): the KV hand-off moves one
    // layer's heads of a slot in one call.
    // Defined here, not in backend.cpp: a class without out-of-line virtual functions gets its vtable and
    // type information emitted wherever it is used, so libexegpt_cuda.so (which does not link libexegpt)
    // can derive from it.
    virtual void upload_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width, size_t height) {
        for (size_t r = 0; r < height; ++r)
            upload(static_cast<char*>(dst) + r * dst_pitch, static_cast<const char*>(src) + r * src_pitch, width);
    }
    virtual void download_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width, size_t height) {
        for (size_t r = 0; r < height; ++r)
            download(static_cast<char*>(dst) + r * dst_pitch, static_cast<const char*>(src) + r * src_pitch, width);
    }
    // F32 host data <-> storage-dtype backend memory (count elements), converting on the way:
    // weights at load/save, hidden states crossing pipeline stages.
    virtual void upload_f32(void* dst, const float* src, int64_t count) = 0;
    virtual void download_f32(float* dst, const void* src, int64_t count) = 0;
    virtual void synchronize() = 0;

    virtual void gemm(const GemmParams& p) = 0;
    virtual void layer_norm(const LayerNormParams& p) = 0;
    virtual void embedding(const EmbeddingParams& p) = 0;
    virtual void attention(const AttentionParams& p) = 0;
    virtual void add(void* x, const void* y, int64_t n) = 0;  // x += y
    // dst[i] = src[rows[i]] for i < count; rows[] in host memory.
    virtual void gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) = 0;
    virtual void sample(const SampleParams& p) = 0;
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
    // Element i of a storage-dtype tensor (pointer arithmetic in elements of the backend's dtype).
    void* at(int64_t i) const { return static_cast<char*>(ptr_) + i * static_cast<int64_t>(backend_->element_size()); }
    float* f32() const { return static_cast<float*>(ptr_); }  // for buffers that are always F32
    void* data() const { return ptr_; }
    size_t bytes() const { return bytes_; }

private:
    Backend* backend_ = nullptr;
    size_t bytes_ = 0;
    void* ptr_ = nullptr;
};

// Pointer arithmetic on untyped storage-dtype tensors.
inline void* offset(void* p, int64_t elements, size_t element_size) {
    return static_cast<char*>(p) + elements * static_cast<int64_t>(element_size);
}
inline const void* offset(const void* p, int64_t elements, size_t element_size) {
    return static_cast<const char*>(p) + elements * static_cast<int64_t>(element_size);
}

}  // namespace exg
