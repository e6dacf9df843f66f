// Owning handles for CUDA runtime objects. Destructors ignore errors: they run during teardown, possibly
// of a context that a fault has already destroyed, and must never throw. Each handle must be destroyed
// with its device current (CudaBackend's destructor makes it so before its members go).
#pragma once

#include "backend/cuda/cuda_check.h"

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

namespace exg::cuda {

// cudaMalloc'd memory. Releasing it does not wait for queued work: the owner synchronises first.
class DeviceMemory {
public:
    DeviceMemory() = default;
    explicit DeviceMemory(size_t bytes) : bytes_(bytes) {
        check(cudaMalloc(&ptr_, bytes), "cudaMalloc", " of ", bytes, " bytes");
    }
    ~DeviceMemory() { reset(); }
    DeviceMemory(DeviceMemory&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    DeviceMemory& operator=(DeviceMemory&& o) noexcept {
        if (this != &o) {
            reset();
            ptr_ = std::exchange(o.ptr_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    void reset() noexcept {
        if (ptr_ != nullptr) (void)cudaFree(ptr_);
        ptr_ = nullptr;
        bytes_ = 0;
    }
    void* get() const { return ptr_; }
    size_t bytes() const { return bytes_; }

private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

// Page-locked host memory (cudaHostAlloc, portable: pinned for every device's context).
class PinnedMemory {
public:
    PinnedMemory() = default;
    explicit PinnedMemory(size_t bytes) : bytes_(bytes) {
        check(cudaHostAlloc(&ptr_, bytes, cudaHostAllocPortable), "cudaHostAlloc", " of ", bytes, " bytes");
    }
    ~PinnedMemory() { reset(); }
    PinnedMemory(PinnedMemory&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    PinnedMemory& operator=(PinnedMemory&& o) noexcept {
        if (this != &o) {
            reset();
            ptr_ = std::exchange(o.ptr_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    void reset() noexcept {
        if (ptr_ != nullptr) (void)cudaFreeHost(ptr_);
        ptr_ = nullptr;
        bytes_ = 0;
    }
    void* get() const { return ptr_; }
    size_t bytes() const { return bytes_; }

private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

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
