#include "backend/cuda/cuda_backend.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/gemm_lt.h"
#include "core/error.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

namespace exg::cuda {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// Every live CudaBackend of this library (CudaBackend::from).
struct Registry {
    std::mutex mutex;
    std::set<const Backend*> backends;
};

// The registries are never destroyed: a backend or host buffer released during process exit (after the
// library's static destructors ran) must still find them.
Registry& registry() {
    static Registry* r = new Registry;
    return *r;
}

// Every live alloc_host buffer of every backend of this library: a pinned buffer from one backend may feed
// another's copies (the KV hand-off between stages).
PinnedRanges& pinned_ranges() {
    static PinnedRanges* r = new PinnedRanges;
    return *r;
}

bool pinned_range(const void* p, size_t bytes) { return pinned_ranges().contains(p, bytes); }

exg_dtype resolve_dtype(int32_t dtype) {
    if (dtype == -1) return EXG_DTYPE_BF16;
    if (dtype == EXG_DTYPE_F16 || dtype == EXG_DTYPE_BF16) return static_cast<exg_dtype>(dtype);
    if (dtype == EXG_DTYPE_F32) fail(EXG_ERR_INVALID_ARGUMENT, "the CUDA backend stores f16 or bf16 (dtype 1 or 2), not f32");
    fail(EXG_ERR_INVALID_ARGUMENT, "unknown dtype ", dtype, " (the CUDA backend stores f16 = 1 or bf16 = 2; -1: bf16)");
}

int device_attribute(cudaDeviceAttr attribute, int device, const char* what) {
    int value = 0;
    check(cudaDeviceGetAttribute(&value, attribute, device), "cudaDeviceGetAttribute", " (", what, ")");
    return value;
}

// Peak DRAM bandwidth in GB/s: 2 transfers per memory clock (DDR) x bus width in bytes. 0 when the driver
// does not report the clock or bus width (the attributes some newer parts leave at 0).
double peak_bandwidth_gbps(int device) {
    int clock_khz = 0;
    int bus_bits = 0;
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0.0;
    }
    return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
}

}  // namespace

CudaBackend::CudaBackend(const exg_backend_params& params) : device_(params.device), dtype_(resolve_dtype(params.dtype)) {
    kernel_dtype_ = dtype_ == EXG_DTYPE_F16 ? DType::F16 : DType::BF16;

    int count = 0;
    const cudaError_t probe = cudaGetDeviceCount(&count);
    if (probe == cudaErrorNoDevice || (probe == cudaSuccess && count == 0)) {
        (void)cudaGetLastError();
        fail(EXG_ERR_UNSUPPORTED, "no CUDA-capable device is detected");
    }
    if (probe == cudaErrorInsufficientDriver) {
        (void)cudaGetLastError();
        fail(EXG_ERR_UNSUPPORTED, cudaGetErrorString(probe), " (no NVIDIA driver, or one older than this CUDA ",
             CUDART_VERSION / 1000, ".", CUDART_VERSION % 1000 / 10, " runtime)");
    }
    check(probe, "cudaGetDeviceCount");
    require(device_ >= 0 && device_ < count, EXG_ERR_INVALID_ARGUMENT, "cuda device ", device_, " does not exist (",
            count, count == 1 ? " device" : " devices", ": 0..", count - 1, ")");
    check(cudaSetDevice(device_), "cudaSetDevice", " (device ", device_, ")");

    cudaDeviceProp props{};
    check(cudaGetDeviceProperties(&props, device_), "cudaGetDeviceProperties");
    name_ = props.name;
    total_memory_ = props.totalGlobalMem;
    cc_major_ = device_attribute(cudaDevAttrComputeCapabilityMajor, device_, "compute capability");
    cc_minor_ = device_attribute(cudaDevAttrComputeCapabilityMinor, device_, "compute capability");
    sm_count_ = device_attribute(cudaDevAttrMultiProcessorCount, device_, "multiprocessor count");
    peak_bandwidth_gbps_ = peak_bandwidth_gbps(device_);
    require(cc_major_ >= 8, EXG_ERR_UNSUPPORTED, "cuda device ", device_, " (", name_, ") has compute capability ",
            cc_major_, ".", cc_minor_, "; the CUDA backend needs 8.0 or newer (bf16 tensor cores)");

    stream_ = Stream::non_blocking();
    copy_stream_ = Stream::non_blocking();
    compute_mark_ = Event::recorded_on(stream_.get());
    copy_mark_ = Event::recorded_on(copy_stream_.get());
    const size_t workspace = gemm_workspace_bytes(cc_major_);
    gemm_workspace_ = DeviceMemory(workspace);
    gemm_ = std::make_unique<LtGemm>(gemm_workspace_.get(), workspace);
    for (StagingSlot& slot : ring_) slot.copied = Event::recorded_on(stream_.get());
    attention_slot_.copied = Event::recorded_on(stream_.get());
    for (Event& e : convert_copied_) e = Event::recorded_on(copy_stream_.get());
    for (Event& e : convert_done_) e = Event::recorded_on(stream_.get());

    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.backends.insert(this);
}

CudaBackend::~CudaBackend() {
    {
        Registry& r = registry();
        std::lock_guard<std::mutex> lock(r.mutex);
        r.backends.erase(this);
    }
    // Members are released with this device current and nothing left in flight; errors (a dead context)
    // are ignored: there is nobody to report them to.
    (void)cudaSetDevice(device_);
    if (stream_.get() != nullptr) (void)cudaStreamSynchronize(stream_.get());
    if (copy_stream_.get() != nullptr) (void)cudaStreamSynchronize(copy_stream_.get());
    (void)cudaGetLastError();
}

CudaBackend* CudaBackend::from(Backend* backend) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    return r.backends.count(backend) != 0 ? static_cast<CudaBackend*>(backend) : nullptr;
}

void CudaBackend::use_device() const {
    int current = -1;
    check(cudaGetDevice(&current), "cudaGetDevice");
    if (current != device_) check(cudaSetDevice(device_), "cudaSetDevice", " (device ", device_, ")");
}

void CudaBackend::sync_streams() const {
    check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize", " (compute stream, device ", device_, ")");
    check(cudaStreamSynchronize(copy_stream_.get()), "cudaStreamSynchronize", " (copy stream, device ", device_, ")");
}

void CudaBackend::grow(DeviceMemory& memory, size_t bytes) {
    if (bytes <= memory.bytes()) return;
    sync_streams();
    memory.reset();
    memory = DeviceMemory(bytes);
}

void CudaBackend::grow(PinnedMemory& memory, size_t bytes) {
    if (bytes <= memory.bytes()) return;
    sync_streams();
    memory.reset();
    memory = PinnedMemory(bytes);
}

void CudaBackend::device_info(exg_device_info& out) const {
    use_device();
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    std::memset(out.name, 0, sizeof out.name);
    std::strncpy(out.name, name_.c_str(), sizeof out.name - 1);
    out.total_memory = total_memory_;
    out.free_memory = free_bytes;
    out.multiprocessors = sm_count_;
    out.compute_capability = cc_major_ * 10 + cc_minor_;
    out.peak_bandwidth_gbps = peak_bandwidth_gbps_;
}

// --- memory -------------------------------------------------------------------------------------------------

void* CudaBackend::alloc(size_t bytes) {
    use_device();
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 1));  // a distinct pointer even for 0 bytes
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        size_t free_bytes = 0;
        size_t total_bytes = 0;
        (void)cudaMemGetInfo(&free_bytes, &total_bytes);
        fail(EXG_ERR_OUT_OF_MEMORY, "cuda device ", device_, " (", name_, "): cannot allocate ", bytes / kMiB,
             " MiB; ", free_bytes / kMiB, " MiB of ", total_bytes / kMiB, " MiB are free");
    }
    check(e, "cudaMalloc", " of ", bytes, " bytes on device ", device_);
    return p;
}

void CudaBackend::free(void* p) noexcept {
    if (p == nullptr) return;
    // Queued work may still use the memory: let it finish (cudaFree's own implicit synchronisation is not
    // a documented guarantee).
    (void)cudaSetDevice(device_);
    (void)cudaStreamSynchronize(stream_.get());
    (void)cudaStreamSynchronize(copy_stream_.get());
    (void)cudaFree(p);
    (void)cudaGetLastError();
}

size_t CudaBackend::available_memory() const {
    use_device();
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    return free_bytes;
}

void* CudaBackend::alloc_host(size_t bytes) {
    use_device();
    void* p = nullptr;
    const cudaError_t e = cudaHostAlloc(&p, std::max<size_t>(bytes, 1), cudaHostAllocPortable);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        fail(EXG_ERR_OUT_OF_MEMORY, "cannot allocate ", bytes / kMiB, " MiB of page-locked host memory");
    }
    check(e, "cudaHostAlloc", " of ", bytes, " bytes");
    pinned_ranges().add(p, bytes);
    return p;
}

void CudaBackend::free_host(void* p) noexcept {
    if (p == nullptr) return;
    pinned_ranges().remove(p);
    // The caller may be a thread that never used CUDA (a finalizer): without this, cudaFreeHost would
    // create device 0's primary context there, on a GPU this backend may not even use.
    (void)cudaSetDevice(device_);
    (void)cudaFreeHost(p);
    (void)cudaGetLastError();
}

// --- copies -------------------------------------------------------------------------------------------------

cudaStream_t CudaBackend::copy_stream_after_compute() {
    check(cudaEventRecord(compute_mark_.get(), stream_.get()), "cudaEventRecord");
    check(cudaStreamWaitEvent(copy_stream_.get(), compute_mark_.get(), 0), "cudaStreamWaitEvent");
    return copy_stream_.get();
}

void CudaBackend::finish_copy_stream() {
    check(cudaEventRecord(copy_mark_.get(), copy_stream_.get()), "cudaEventRecord");
    check(cudaStreamWaitEvent(stream_.get(), copy_mark_.get(), 0), "cudaStreamWaitEvent");
    check(cudaEventSynchronize(copy_mark_.get()), "cudaEventSynchronize", " (copy on device ", device_, ")");
}

// Every host <-> device copy: height rows of width bytes. A page-locked host side (from alloc_host) goes
// through the copy stream, ordered after the compute stream's work by events; a pageable one on the compute
// stream. Either way it is complete on return: an upload's source may be page-locked memory this library did
// not allocate, read asynchronously, which the caller may reuse once upload returns.
void CudaBackend::host_transfer(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                                size_t height, cudaMemcpyKind kind) {
    use_device();
    if (width == 0 || height == 0) return;
    const bool upload = kind == cudaMemcpyHostToDevice;
    const void* host = upload ? src : dst;
    const char* what = upload ? "upload" : "download";
    if (pinned_range(host, strided_extent(upload ? src_pitch : dst_pitch, width, height))) {
        check(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, height, kind, copy_stream_after_compute()),
              "cudaMemcpy2DAsync", " (", what, " of ", height, " rows of ", width, " bytes)");
        finish_copy_stream();
        return;
    }
    check(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, height, kind, stream_.get()), "cudaMemcpy2DAsync",
          " (", what, " of ", height, " rows of ", width, " bytes)");
    check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize", " (", what, " on device ", device_, ")");
}

void CudaBackend::upload(void* dst, const void* src, size_t bytes) {
    host_transfer(dst, bytes, src, bytes, bytes, 1, cudaMemcpyHostToDevice);
}

void CudaBackend::download(void* dst, const void* src, size_t bytes) {
    host_transfer(dst, bytes, src, bytes, bytes, 1, cudaMemcpyDeviceToHost);
}

void CudaBackend::upload_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                            size_t height) {
    host_transfer(dst, dst_pitch, src, src_pitch, width, height, cudaMemcpyHostToDevice);
}

void CudaBackend::download_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                              size_t height) {
    host_transfer(dst, dst_pitch, src, src_pitch, width, height, cudaMemcpyDeviceToHost);
}

void CudaBackend::copy(void* dst, const void* src, size_t bytes) {
    use_device();
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_.get()), "cudaMemcpyAsync",
          " (device copy of ", bytes, " bytes)");
}

void CudaBackend::ensure_convert_buffers() {
    const size_t bytes = static_cast<size_t>(kConvertChunk) * sizeof(float);
    for (size_t b = 0; b < 2; ++b) {
        if (convert_host_[b].get() == nullptr) convert_host_[b] = PinnedMemory(bytes);
        if (convert_device_[b].get() == nullptr) convert_device_[b] = DeviceMemory(bytes);
    }
}

// Chunk c uses buffer pair b = c % 2. The host refills pinned chunk b once the copy that last read it is
// done (convert_copied_); the copy stream overwrites device chunk b once the conversion that last read it
// is done (convert_done_); the conversion waits for its copy. So the host memcpy of chunk c+1, the copy of
// chunk c and the conversion of chunk c-1 overlap.
void CudaBackend::upload_f32(void* dst, const float* src, int64_t count) {
    use_device();
    require(count >= 0, EXG_ERR_INVALID_ARGUMENT, "upload_f32: negative count ", count);
    if (count == 0) return;
    ensure_convert_buffers();
    const int64_t chunks = chunk_count(count, kConvertChunk);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        const size_t b = static_cast<size_t>(chunk % 2);
        const int64_t done = chunk * kConvertChunk;
        const int64_t n = chunk_length(count, kConvertChunk, chunk);
        const size_t bytes = static_cast<size_t>(n) * sizeof(float);
        float* staged = static_cast<float*>(convert_device_[b].get());
        check(cudaEventSynchronize(convert_copied_[b].get()), "cudaEventSynchronize", " (upload_f32 staging)");
        std::memcpy(convert_host_[b].get(), src + done, bytes);
        check(cudaStreamWaitEvent(copy_stream_.get(), convert_done_[b].get(), 0), "cudaStreamWaitEvent");
        check(cudaMemcpyAsync(staged, convert_host_[b].get(), bytes, cudaMemcpyHostToDevice, copy_stream_.get()),
              "cudaMemcpyAsync", " (upload_f32 chunk of ", bytes, " bytes)");
        check(cudaEventRecord(convert_copied_[b].get(), copy_stream_.get()), "cudaEventRecord");
        check(cudaStreamWaitEvent(stream_.get(), convert_copied_[b].get(), 0), "cudaStreamWaitEvent");
        f32_to_storage(kernel_dtype_, offset(dst, done, element_size()), staged, n, stream_.get());
        check(cudaEventRecord(convert_done_[b].get(), stream_.get()), "cudaEventRecord");
    }
}

// The mirror image: chunk c is converted (compute stream, once the copy that last read device chunk b is
// done) and copied to pinned chunk b (copy stream); the host drains chunk c-1 while chunk c is in flight.
// Pinned chunk b is rewritten only by chunk c+2, issued after chunk c was drained.
void CudaBackend::download_f32(float* dst, const void* src, int64_t count) {
    use_device();
    require(count >= 0, EXG_ERR_INVALID_ARGUMENT, "download_f32: negative count ", count);
    if (count == 0) return;
    ensure_convert_buffers();
    const auto drain = [&](int64_t chunk) {
        const size_t b = static_cast<size_t>(chunk % 2);
        const int64_t done = chunk * kConvertChunk;
        const int64_t n = chunk_length(count, kConvertChunk, chunk);
        check(cudaEventSynchronize(convert_copied_[b].get()), "cudaEventSynchronize",
              " (download_f32 on device ", device_, ")");
        std::memcpy(dst + done, convert_host_[b].get(), static_cast<size_t>(n) * sizeof(float));
    };
    const int64_t chunks = chunk_count(count, kConvertChunk);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        const size_t b = static_cast<size_t>(chunk % 2);
        const int64_t done = chunk * kConvertChunk;
        const int64_t n = chunk_length(count, kConvertChunk, chunk);
        const size_t bytes = static_cast<size_t>(n) * sizeof(float);
        float* staged = static_cast<float*>(convert_device_[b].get());
        check(cudaStreamWaitEvent(stream_.get(), convert_copied_[b].get(), 0), "cudaStreamWaitEvent");
        storage_to_f32(kernel_dtype_, staged, offset(src, done, element_size()), n, stream_.get());
        check(cudaEventRecord(convert_done_[b].get(), stream_.get()), "cudaEventRecord");
        check(cudaStreamWaitEvent(copy_stream_.get(), convert_done_[b].get(), 0), "cudaStreamWaitEvent");
        check(cudaMemcpyAsync(convert_host_[b].get(), staged, bytes, cudaMemcpyDeviceToHost, copy_stream_.get()),
              "cudaMemcpyAsync", " (download_f32 chunk of ", bytes, " bytes)");
        check(cudaEventRecord(convert_copied_[b].get(), copy_stream_.get()), "cudaEventRecord");
        if (chunk > 0) drain(chunk - 1);
    }
    drain(chunks - 1);
}

void CudaBackend::synchronize() {
    use_device();
    sync_streams();
}

// --- batch metadata -------------------------------------------------------------------------------------------

void CudaBackend::stage(StagingSlot& slot, std::initializer_list<HostArray> arrays, const void** device_out) {
    size_t total = 0;
    for (const HostArray& a : arrays) total += staging_bytes(a.bytes);
    // The previous copy out of this slot must have read it before it is rewritten; with kRingSlots slots
    // that copy was queued several ops ago, so this rarely waits.
    check(cudaEventSynchronize(slot.copied.get()), "cudaEventSynchronize", " (metadata staging)");
    if (total > std::min(slot.host.bytes(), slot.device.bytes())) {  // both: an earlier growth may have failed
        const size_t bytes = std::max<size_t>({total, 2 * slot.host.bytes(), 4096});
        grow(slot.host, bytes);
        grow(slot.device, bytes);
    }
    auto* host = static_cast<char*>(slot.host.get());
    auto* device = static_cast<char*>(slot.device.get());
    size_t at = 0;
    size_t i = 0;
    for (const HostArray& a : arrays) {
        if (a.bytes != 0) std::memcpy(host + at, a.data, a.bytes);
        device_out[i++] = device + at;
        at += staging_bytes(a.bytes);
    }
    check(cudaMemcpyAsync(device, host, total, cudaMemcpyHostToDevice, stream_.get()), "cudaMemcpyAsync",
          " (", total, " bytes of batch metadata)");
    check(cudaEventRecord(slot.copied.get(), stream_.get()), "cudaEventRecord");
}

const CudaBackend::AttentionBatch& CudaBackend::stage_attention(const AttentionParams& p) {
    if (attention_key_.matches(p)) return attention_batch_;
    const AttentionShape shape = attention_shape(p);
    attention_key_.clear();
    const size_t bytes = static_cast<size_t>(p.num_seqs) * sizeof(int32_t);
    const void* device[4];
    stage(attention_slot_, {{p.slot, bytes}, {p.q_start, bytes}, {p.len, bytes}, {p.past, bytes}}, device);
    attention_batch_.slot = static_cast<const int32_t*>(device[0]);
    attention_batch_.q_start = static_cast<const int32_t*>(device[1]);
    attention_batch_.len = static_cast<const int32_t*>(device[2]);
    attention_batch_.past = static_cast<const int32_t*>(device[3]);
    attention_batch_.shape = shape;
    attention_key_.assign(p);
    return attention_batch_;
}

// --- ops ------------------------------------------------------------------------------------------------------

void CudaBackend::gemm(const GemmParams& p) {
    use_device();
    gemm_->run(GemmLaunch{p, kernel_dtype_}, stream_.get());
}

void CudaBackend::layer_norm(const LayerNormParams& p) {
    use_device();
    cuda::layer_norm(kernel_dtype_, p, stream_.get());
}

void CudaBackend::embedding(const EmbeddingParams& p) {
    use_device();
    require(p.rows >= 0, EXG_ERR_INVALID_ARGUMENT, "embedding: negative row count ", p.rows);
    if (p.rows == 0) return;
    const size_t bytes = static_cast<size_t>(p.rows) * sizeof(int32_t);
    const void* device[2] = {nullptr, nullptr};
    StagingSlot& slot = next_ring_slot();
    if (p.pos_table != nullptr) stage(slot, {{p.ids, bytes}, {p.pos_ids, bytes}}, device);
    else stage(slot, {{p.ids, bytes}}, device);
    EmbeddingParams on_device = p;
    on_device.ids = static_cast<const int32_t*>(device[0]);
    on_device.pos_ids = static_cast<const int32_t*>(device[1]);
    cuda::embedding(kernel_dtype_, on_device, stream_.get());
}

void CudaBackend::attention(const AttentionParams& p) {
    use_device();
    require(p.num_seqs >= 0, EXG_ERR_INVALID_ARGUMENT, "attention: negative sequence count ", p.num_seqs);
    if (p.num_seqs == 0) return;
    const AttentionBatch& batch = stage_attention(p);
    if (batch.shape.total_tokens == 0) return;
    AttentionLaunch launch{};
    static_cast<AttentionParams&>(launch) = p;
    launch.slot = batch.slot;  // the staged device copies of the four host arrays
    launch.q_start = batch.q_start;
    launch.len = batch.len;
    launch.past = batch.past;
    launch.dtype = kernel_dtype_;
    launch.max_len = batch.shape.max_len;
    launch.max_total = batch.shape.max_total;
    launch.total_tokens = batch.shape.total_tokens;
    launch.sm_count = sm_count_;
    append_kv(launch, stream_.get());
    // backend.h: decode means every len is 1; the decode kernels rely on it, so the host arrays decide.
    if (p.decode && batch.shape.max_len == 1 && batch.shape.total_tokens == p.num_seqs) {
        const size_t workspace =
            attention_workspace_bytes(p.num_seqs, p.num_heads, p.head_dim, batch.shape.max_total, sm_count_);
        grow(attention_workspace_, workspace);
        launch.workspace = workspace != 0 ? attention_workspace_.get() : nullptr;
        launch.workspace_bytes = workspace;
        decode_attention(launch, stream_.get());
    } else {
        prefill_attention(launch, stream_.get());
    }
}

void CudaBackend::add(void* x, const void* y, int64_t n) {
    use_device();
    cuda::add(kernel_dtype_, x, y, n, stream_.get());
}

void CudaBackend::gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t dim) {
    use_device();
    require(count >= 0 && dim >= 0, EXG_ERR_INVALID_ARGUMENT, "gather_rows: bad shape ", count, " x ", dim);
    if (count == 0 || dim == 0) return;
    const void* device_rows = nullptr;
    stage(next_ring_slot(), {{rows, static_cast<size_t>(count) * sizeof(int32_t)}}, &device_rows);
    cuda::gather_rows(dst, src, static_cast<const int32_t*>(device_rows), count,
                      dim * static_cast<int64_t>(element_size()), stream_.get());
}

void CudaBackend::sample(const SampleParams& p) {
    use_device();
    require(p.rows >= 0 && p.vocab > 0, EXG_ERR_INVALID_ARGUMENT, "sample: bad shape ", p.rows, " x ", p.vocab);
    if (p.rows == 0) return;
    const size_t rows = static_cast<size_t>(p.rows);
    const size_t state_bytes = rows * sizeof(uint64_t);
    const size_t token_bytes = rows * sizeof(int32_t);
    grow(sample_device_, state_bytes + token_bytes);
    grow(sample_host_, state_bytes + token_bytes);
    const size_t workspace = sample_workspace_bytes(p.rows, p.vocab);
    grow(sample_workspace_, workspace);

    // The previous sample synchronised before returning, so the pinned buffer is free.
    auto* host = static_cast<char*>(sample_host_.get());
    auto* device = static_cast<char*>(sample_device_.get());
    auto* states = reinterpret_cast<uint64_t*>(device);
    auto* tokens = reinterpret_cast<int32_t*>(device + state_bytes);
    const bool greedy = p.sampling.greedy != 0;  // greedy rows draw nothing: their states stay as they are
    if (!greedy) {
        std::memcpy(host, p.rng_states, state_bytes);
        check(cudaMemcpyAsync(states, host, state_bytes, cudaMemcpyHostToDevice, stream_.get()), "cudaMemcpyAsync",
              " (sampling rng states)");
    }
    SampleLaunch launch{};
    launch.rows = p.rows;
    launch.vocab = p.vocab;
    launch.logits = p.logits;
    launch.ld = p.ld;
    launch.greedy = greedy ? 1 : 0;
    launch.temperature = p.sampling.temperature;
    launch.top_k = p.sampling.top_k;
    launch.top_p = p.sampling.top_p;
    launch.rng_states = states;
    launch.tokens = tokens;
    launch.workspace = workspace != 0 ? sample_workspace_.get() : nullptr;
    launch.workspace_bytes = workspace;
    cuda::sample(launch, stream_.get());
    // States (advanced by non-greedy rows) and tokens lie back to back: one copy brings back what changed.
    const size_t back = greedy ? state_bytes : 0;
    check(cudaMemcpyAsync(host + back, device + back, state_bytes + token_bytes - back, cudaMemcpyDeviceToHost,
                          stream_.get()),
          "cudaMemcpyAsync", " (sampled tokens)");
    check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize", " (sample on device ", device_, ")");
    std::memcpy(p.tokens, host + state_bytes, token_bytes);
    if (!greedy) std::memcpy(p.rng_states, host, state_bytes);
}

}  // namespace exg::cuda
