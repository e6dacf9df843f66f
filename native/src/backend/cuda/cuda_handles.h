// Owning handles for CUDA runtime objects. Destructors ignore errors: they run during teardown, possibly
// of a context that a fault has already destroyed, and must never throw. Each handle must be destroyed
// with its device current (CudaBackend's destructor makes it so before its members go).
#pragma once

#include "backend/cuda/cuda_check.h"

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

namespace exg::cuda {

// Memory released by Kind::release. Releasing device memory does not wait for queued work: the owner
// synchronises first.
template <class Kind>
class Memory {
public:
    Memory() = default;
    explicit Memory(size_t bytes) : bytes_(bytes) { Kind::allocate(&ptr_, bytes); }
    ~Memory() { reset(); }
    Memory(Memory&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    Memory& operator=(Memory&& o) noexcept {
        if (this != &o) {
            reset();
            ptr_ = std::exchange(o.ptr_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    void reset() noexcept {
        if (ptr_ != nullptr) Kind::release(ptr_);
        ptr_ = nullptr;
        bytes_ = 0;
    }
    void* get() const { return ptr_; }
    size_t bytes() const { return bytes_; }

private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

struct DeviceAllocation {  // cudaMalloc
    static void allocate(void** p, size_t bytes) { check(cudaMalloc(p, bytes), "cudaMalloc", " of ", bytes, " bytes"); }
    static void release(void* p) noexcept { (void)cudaFree(p); }
};
struct PinnedAllocation {  // page-locked host memory, portable: pinned for every device's context
    static void allocate(void** p, size_t bytes) {
        check(cudaHostAlloc(p, bytes, cudaHostAllocPortable), "cudaHostAlloc", " of ", bytes, " bytes");
    }
    static void release(void* p) noexcept { (void)cudaFreeHost(p); }
};
using DeviceMemory = Memory<DeviceAllocation>;
using PinnedMemory = Memory<PinnedAllocation>;

// A non-blocking stream: no implicit synchronisation with the legacy default stream, which other
// libraries in the process may use.
class Stream {
public:
    Stream() = default;
    static Stream non_blocking() {
        Stream s;
        check(cudaStreamCreateWithFlags(&s.stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        return s;
    }
    ~Stream() {
        if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
    }
    Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
    Stream& operator=(Stream&& o) noexcept {
        std::swap(stream_, o.stream_);
        return *this;
    }
    cudaStream_t get() const { return stream_; }

private:
    cudaStream_t stream_ = nullptr;
};

// An event without timing (cheaper to record and wait on). Created recorded on `stream`, so a first
// wait on it is satisfied by the work queued there so far instead of depending on the runtime's
// treatment of never-recorded events.
class Event {
public:
    Event() = default;
    static Event recorded_on(cudaStream_t stream) {
        Event e;
        check(cudaEventCreateWithFlags(&e.event_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        check(cudaEventRecord(e.event_, stream), "cudaEventRecord");
        return e;
    }
    ~Event() {
        if (event_ != nullptr) (void)cudaEventDestroy(event_);
    }
    Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
    Event& operator=(Event&& o) noexcept {
        std::swap(event_, o.event_);
        return *this;
    }
    cudaEvent_t get() const { return event_; }

private:
    cudaEvent_t event_ = nullptr;
};

}  // namespace exg::cuda
