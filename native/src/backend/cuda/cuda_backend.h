// The CUDA backend: every op of backend.h on one device, tensors in F16 or BF16 with F32 accumulation.
// It lives in libexegpt_cuda.so (exports.cpp), which libexegpt loads at run time, so a machine without
// CUDA never loads libcudart.
//
// Streams. Every op is enqueued on one non-blocking compute stream; nothing waits for the device except
// what backend.h says returns with results in place (download*, sample, synchronize) and what must not
// outlive a host buffer (see upload). Copies whose host side is page-locked memory from alloc_host run on a
// second (copy) stream, ordered by events after everything enqueued before them and before everything
// enqueued after, so they use the copy engine without reordering anything. The F32 weight/activation
// conversions (upload_f32/download_f32) pipeline through two pinned staging buffers: the copy engine moves
// chunk c+1 while the compute stream converts chunk c and the host fills chunk c+2.
//
// Host batch metadata (attention's slot/q_start/len/past, embedding ids, gather rows) is staged into
// device memory through pinned slots whose reuse waits on the event of the copy that last read them.
// The transformer passes the same attention metadata to every layer of a step: the device copy is reused
// while the host arrays are byte-identical to the last ones staged.
//
// Threads: one thread at a time drives a backend (the rank thread), though not always the same one; every
// public op first makes the backend's device current. alloc_host/free_host may come from any thread.
#pragma once

#include "backend/backend.h"
#include "backend/cuda/cuda_handles.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/staging.h"

#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

namespace exg::cuda {

class LtGemm;

class CudaBackend final : public Backend {
public:
    // Throws Error naming why no backend can be made: no device / driver (EXG_ERR_UNSUPPORTED), a device
    // ordinal out of range or a dtype other than F16/BF16 (EXG_ERR_INVALID_ARGUMENT), compute capability
    // below 8.0 (EXG_ERR_UNSUPPORTED), or a CUDA failure.
    explicit CudaBackend(const exg_backend_params& params);
    ~CudaBackend() override;
    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    // The CudaBackend behind `backend` when it is one of this library's live backends, else null
    // (dynamic_cast is not reliable across the libraries' hidden type information).
    static CudaBackend* from(Backend* backend);

    // For the NCCL communicator: its device and the stream collectives are ordered on.
    int device() const { return device_; }
    cudaStream_t stream() const { return stream_.get(); }

    const char* name() const override { return "cuda"; }
    exg_dtype dtype() const override { return dtype_; }
    void device_info(exg_device_info& out) const override;

    void* alloc(size_t bytes) override;
    void free(void* p) noexcept override;
    size_t available_memory() const override;
    void* alloc_host(size_t bytes) override;
    void free_host(void* p) noexcept override;
    // An upload returns once its source may be reused (as on the CPU): it waits for its own copy, which
    // runs after the work already enqueued. A download returns with the bytes in place.
    void upload(void* dst, const void* src, size_t bytes) override;
    void download(void* dst, const void* src, size_t bytes) override;
    void copy(void* dst, const void* src, size_t bytes) override;
    void upload_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width, size_t height) override;
    void download_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                     size_t height) override;
    void upload_f32(void* dst, const float* src, int64_t count) override;
    void download_f32(float* dst, const void* src, int64_t count) override;
    void synchronize() override;

    void gemm(const GemmParams& p) override;
    void layer_norm(const LayerNormParams& p) override;
    void embedding(const EmbeddingParams& p) override;
    void attention(const AttentionParams& p) override;
    void add(void* x, const void* y, int64_t n) override;
    void gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) override;
    void sample(const SampleParams& p) override;

private:
    // Pinned host memory and its device twin, for host arrays on their way to the device. `copied` is
    // recorded after the last copy that read `host`.
    struct StagingSlot {
        PinnedMemory host;
        DeviceMemory device;
        Event copied;
    };
    struct HostArray {
        const void* data;
        size_t bytes;
    };
    // An attention batch's metadata in device memory and the host-derived sizes of its launch.
    struct AttentionBatch {
        const int32_t* slot = nullptr;
        const int32_t* q_start = nullptr;
        const int32_t* len = nullptr;
        const int32_t* past = nullptr;
        AttentionShape shape;
    };

    static constexpr size_t kRingSlots = 8;
    static constexpr int64_t kConvertChunk = int64_t{1} << 20;  // F32 elements per staged chunk (4 MiB)

    void use_device() const;
    // Waits for everything enqueued on both streams; throws on a device fault.
    void sync_streams() const;
    // Grows (never shrinks) memory that queued work may still use: the streams drain first.
    void grow(DeviceMemory& memory, size_t bytes);
    void grow(PinnedMemory& memory, size_t bytes);
    // Copies the arrays through `slot` into device memory on the compute stream, each at a 16-byte
    // aligned offset; device_out[i] receives the device address of arrays[i].
    void stage(StagingSlot& slot, std::initializer_list<HostArray> arrays, const void** device_out);
    StagingSlot& next_ring_slot() { return ring_[next_ring_++ % kRingSlots]; }
    const AttentionBatch& stage_attention(const AttentionParams& p);
    // Pinned copies: the copy stream, after everything enqueued on the compute stream so far...
    cudaStream_t copy_stream_after_compute();
    // ...then the compute stream waits for it, and so does the host.
    void finish_copy_stream();
    void host_transfer(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width, size_t height,
                       cudaMemcpyKind kind);
    void ensure_convert_buffers();

    int device_;
    exg_dtype dtype_;
    DType kernel_dtype_;
    int cc_major_ = 0;
    int cc_minor_ = 0;
    int sm_count_ = 0;
    std::string name_;
    size_t total_memory_ = 0;
    double peak_bandwidth_gbps_ = 0.0;

    // Declaration order is destruction order reversed: streams and events outlive everything that may
    // have work queued on them; the GEMM object goes before its workspace.
    Stream stream_;
    Stream copy_stream_;
    Event compute_mark_;
    Event copy_mark_;
    DeviceMemory gemm_workspace_;
    std::unique_ptr<LtGemm> gemm_;

    std::array<StagingSlot, kRingSlots> ring_;
    size_t next_ring_ = 0;
    StagingSlot attention_slot_;
    AttentionKey attention_key_;  // the host metadata of the batch in attention_slot_
    AttentionBatch attention_batch_;
    DeviceMemory attention_workspace_;

    DeviceMemory sample_device_;  // rng states, then tokens
    PinnedMemory sample_host_;
    DeviceMemory sample_workspace_;

    // upload_f32/download_f32: two pinned chunks, two F32 device chunks, and per chunk the events of its
    // last copy (copy stream) and last conversion (compute stream).
    std::array<PinnedMemory, 2> convert_host_;
    std::array<DeviceMemory, 2> convert_device_;
    std::array<Event, 2> convert_copied_;
    std::array<Event, 2> convert_done_;
};

}  // namespace exg::cuda
