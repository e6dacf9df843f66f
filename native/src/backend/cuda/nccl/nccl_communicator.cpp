#include "backend/cuda/nccl/nccl_communicator.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/nccl/nccl_comm.h"
#include "backend/cuda/nccl/nccl_loader.h"
#include "core/error.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

// How a wait is bounded. No NCCL or CUDA wait takes a deadline, so completion is polled: NCCL's
// communicator state (ncclCommGetAsyncError: ncclInProgress while a non-blocking call is still being
// enqueued or the init still runs; an error once anything failed, e.g. a peer went away) and then the
// stream (cudaStreamQuery), until the deadline. NCCL calls that can block the calling thread — in a
// blocking communicator the init waits for every rank and the first collective or send/recv with a
// peer connects to it — run on a helper thread the caller stops waiting for at the deadline. NCCL
// 2.14+ non-blocking communicators (built against a real nccl.h) need no helper. The price: a call
// returns only once its work completed, so the host does not queue work past a collective.
//
// Ownership of the ncclComm_t: it lives in Shared, which the communicator and its helper threads
// share. A helper inside a blocking call ("busy") keeps the handle; an abort meanwhile only marks the
// communicator failed, and the helper aborts the handle when its call returns, so the handle is never
// freed under a thread still using it. A call that never returns leaks its helper and the handle.

namespace exg::cuda {
namespace {

using Clock = std::chrono::steady_clock;

// What the communicator and its helper threads share (see the ownership note above).
struct Shared {
    Shared(const NcclLibrary& library, int dev) : nccl(library), device(dev) {}

    const NcclLibrary& nccl;
    const int device;
    std::mutex mu;
    std::condition_variable cv;
    // Guarded by mu.
    ncclComm_t comm = nullptr;
    bool busy = false;    // a helper thread is inside a blocking NCCL call on comm
    bool failed = false;  // aborted: every later call fails at once
    std::string why;      // what made it fail
    bool call_done = false;
    ncclResult_t call_result = ncclSuccess;
};

// Marks the communicator failed (first reason wins) and aborts the handle unless a helper holds it.
void abort_locked(Shared& s, const std::string& why) {
    if (!s.failed) {
        s.failed = true;
        s.why = why;
    }
    if (s.comm != nullptr && !s.busy) {
        s.nccl.comm_abort(s.comm);
        s.comm = nullptr;
    }
    s.cv.notify_all();
}

// Makes `device` current for the calling thread and restores the previous device on exit: abort()
// and the destructor may run on a thread that uses another device.
class DeviceScope {
public:
    explicit DeviceScope(int device) {
        int current = -1;
        if (cudaGetDevice(&current) == cudaSuccess && current == device) return;
        status_ = cudaSetDevice(device);
        if (status_ == cudaSuccess) previous_ = current;  // -1 (unknown): nothing to restore
    }
    ~DeviceScope() {
        if (previous_ >= 0) cudaSetDevice(previous_);
    }
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;
    cudaError_t status() const { return status_; }

private:
    int previous_ = -1;
    cudaError_t status_ = cudaSuccess;
};

// Yield while a fast collective may finish any moment (a decode all-reduce takes tens of µs), then
// sleep in steps that grow with the time already waited (at most 1/8 of it, at most 1 ms).
void pause(Clock::duration waited) {
    if (waited < std::chrono::microseconds(100)) {
        std::this_thread::yield();
        return;
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(1), waited / 8));
}

class NcclCommunicator final : public Communicator {
public:
    NcclCommunicator(int device, cudaStream_t stream, const uint8_t* unique_id, int32_t world_size, int32_t rank,
                     uint32_t timeout_ms)
        : stream_(stream), size_(world_size), rank_(rank),
          timeout_(std::chrono::milliseconds(timeout_ms == 0 ? 60000 : timeout_ms)) {
        require(world_size >= 1, EXG_ERR_INVALID_ARGUMENT, "NCCL communicator: world_size must be positive, got ",
                world_size);
        require(rank >= 0 && rank < world_size, EXG_ERR_INVALID_ARGUMENT, "NCCL communicator: rank ", rank,
                " is outside [0, ", world_size, ")");
        require(unique_id != nullptr, EXG_ERR_INVALID_ARGUMENT, "NCCL communicator: the unique id is null");
        const DeviceScope scope(device);
        check(scope.status(), "cudaSetDevice", "(", device, ") for an NCCL communicator");
        s_ = std::make_shared<Shared>(nccl_library(), device);
        nonblocking_ = s_->nccl.nonblocking();

        ncclUniqueId id;
        static_assert(sizeof id.internal == EXG_NCCL_UNIQUE_ID_BYTES, "the C ABI's id size is NCCL's");
        std::memcpy(id.internal, unique_id, sizeof id.internal);
        const Clock::time_point deadline = Clock::now() + timeout_;
        if (nonblocking_) {
#if defined(EXG_NCCL_NONBLOCKING)
            ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
            config.blocking = 0;
            std::lock_guard<std::mutex> lock(s_->mu);
            const ncclResult_t r = s_->nccl.comm_init_rank_config(&s_->comm, size_, id, rank_, &config);
            if (r != ncclSuccess && r != ncclInProgress) fail_locked("init", r);
#endif
        } else {
            // Helpers capture values only: one may outlive this object.
            const ncclResult_t r = call_on_helper(
                "init", deadline, [nccl = &s_->nccl, n = size_, me = rank_, id](ncclComm_t* comm) {
                    return nccl->comm_init_rank(comm, n, id, me);
                });
            if (r != ncclSuccess) {
                std::lock_guard<std::mutex> lock(s_->mu);
                fail_locked("init", r);
            }
        }
        wait("init", deadline, false);
    }

    ~NcclCommunicator() override {
        try {
            const DeviceScope scope(s_->device);
            ncclComm_t comm = nullptr;
            {
                std::lock_guard<std::mutex> lock(s_->mu);
                if (s_->comm == nullptr || s_->busy) return;  // aborted already, or a stuck helper owns it
                comm = s_->comm;
            }
            const Clock::time_point deadline = Clock::now() + timeout_;
            if (nonblocking_) {
                // Abort, not finalize + destroy: finalize may wait for the other ranks to finalize too, while a
                // group's communicators are usually released one after another by one thread. Nothing is in
                // flight (every collective waited for its own completion), so abort only frees resources.
                std::lock_guard<std::mutex> lock(s_->mu);
                s_->nccl.comm_abort(comm);
                s_->comm = nullptr;
            } else {
                call_on_helper("destroy", deadline, [nccl = &s_->nccl](ncclComm_t* c) {
                    const ncclResult_t r = nccl->comm_destroy(*c);
                    *c = nullptr;  // gone either way: nothing is left to abort
                    return r;
                });
            }
        } catch (...) {
            // A destructor reports nothing: the communicator is released or, at worst, leaked.
        }
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    bool stream_ordered() const override { return true; }

    void all_reduce_sum(void* data, size_t count, exg_dtype dtype) override {
        require(data != nullptr, EXG_ERR_INVALID_ARGUMENT, where("all_reduce_sum"), ": data is null");
        require(count > 0, EXG_ERR_INVALID_ARGUMENT, where("all_reduce_sum"), ": count must be positive");
        ncclDataType_t type = ncclFloat32;
        switch (dtype) {
            case EXG_DTYPE_F32: type = ncclFloat32; break;
            case EXG_DTYPE_F16: type = ncclFloat16; break;
            case EXG_DTYPE_BF16: type = ncclBfloat16; break;
            default:
                fail(EXG_ERR_INVALID_ARGUMENT, where("all_reduce_sum"), ": dtype ", static_cast<int>(dtype),
                     " is not F32 (0), F16 (1) or BF16 (2)");
        }
        run("all_reduce_sum", [nccl = &s_->nccl, stream = stream_, data, count, type](ncclComm_t comm) {
            return nccl->all_reduce(data, data, count, type, ncclSum, comm, stream);
        });
    }

    void send(const void* data, size_t bytes, int peer) override {
        check_p2p("send", data, bytes, peer);
        run("send", [nccl = &s_->nccl, stream = stream_, data, bytes, peer](ncclComm_t comm) {
            return nccl->send(data, bytes, ncclUint8, peer, comm, stream);
        });
    }

    void recv(void* data, size_t bytes, int peer) override {
        check_p2p("recv", data, bytes, peer);
        run("recv", [nccl = &s_->nccl, stream = stream_, data, bytes, peer](ncclComm_t comm) {
            return nccl->recv(data, bytes, ncclUint8, peer, comm, stream);
        });
    }

    void abort() override {
        const DeviceScope scope(s_->device);
        std::lock_guard<std::mutex> lock(s_->mu);
        abort_locked(*s_, "abort() was called on rank " + std::to_string(rank_));
    }

private:
    std::string where(const char* op) const {
        return std::string("NCCL ") + op + " on rank " + std::to_string(rank_) + " of " + std::to_string(size_);
    }

    void check_p2p(const char* op, const void* data, size_t bytes, int peer) const {
        require(data != nullptr, EXG_ERR_INVALID_ARGUMENT, where(op), ": data is null");
        require(bytes > 0, EXG_ERR_INVALID_ARGUMENT, where(op), ": bytes must be positive");
        require(peer >= 0 && peer < size_ && peer != rank_, EXG_ERR_INVALID_ARGUMENT, where(op), ": peer ", peer,
                " is not another rank of the group");
    }

    [[noreturn]] void fail_locked(const char* op, ncclResult_t r) {
        const std::string what = where(op) + " failed: " + s_->nccl.describe(r, s_->comm);
        abort_locked(*s_, what);
        fail(EXG_ERR_COMM, what, "; the communicator is aborted");
    }

    void check_usable_locked(const char* op) const {
        if (s_->failed) fail(EXG_ERR_COMM, where(op), ": the communicator was aborted earlier (", s_->why, ")");
    }

    // One collective or send/recv: enqueue on the stream, then wait until it completed there. `enqueue`
    // captures values only (it may run on a helper that outlives this object).
    void run(const char* op, const std::function<ncclResult_t(ncclComm_t)>& enqueue) {
        const DeviceScope scope(s_->device);
        check(scope.status(), "cudaSetDevice", "(", s_->device, ") for ", where(op));
        const Clock::time_point deadline = Clock::now() + timeout_;
        if (nonblocking_) {
            std::lock_guard<std::mutex> lock(s_->mu);
            check_usable_locked(op);
            const ncclResult_t r = enqueue(s_->comm);
            if (r != ncclSuccess && r != ncclInProgress) fail_locked(op, r);
        } else {
            const ncclResult_t r = call_on_helper(op, deadline, [enqueue](ncclComm_t* comm) { return enqueue(*comm); });
            if (r != ncclSuccess) {
                std::lock_guard<std::mutex> lock(s_->mu);
                fail_locked(op, r);
            }
        }
        wait(op, deadline, true);
    }

    // Runs a blocking NCCL call on a helper thread and returns its result, or throws Error(EXG_ERR_COMM)
    // when the deadline passes or abort() is called first; the helper then aborts the handle once the
    // call returns (see the ownership note at the top).
    ncclResult_t call_on_helper(const char* op, Clock::time_point deadline,
                                std::function<ncclResult_t(ncclComm_t*)> call) {
        std::unique_lock<std::mutex> lock(s_->mu);
        check_usable_locked(op);
        s_->busy = true;
        s_->call_done = false;
        try {
            std::thread([s = s_, comm = s_->comm, call = std::move(call)]() mutable {
                cudaSetDevice(s->device);  // the current device is per thread; NCCL binds to it
                const ncclResult_t r = call(&comm);
                std::lock_guard<std::mutex> guard(s->mu);
                s->comm = comm;
                s->busy = false;
                s->call_done = true;
                s->call_result = r;
                if (s->failed && s->comm != nullptr) {  // the caller gave up meanwhile
                    s->nccl.comm_abort(s->comm);
                    s->comm = nullptr;
                }
                s->cv.notify_all();
            }).detach();
        } catch (...) {
            s_->busy = false;
            throw;
        }
        s_->cv.wait_until(lock, deadline, [&] { return s_->call_done || s_->failed; });
        if (s_->call_done) return s_->call_result;
        if (s_->failed) fail(EXG_ERR_COMM, where(op), ": the communicator was aborted meanwhile (", s_->why, ")");
        const std::string what = where(op) + " timed out after " + std::to_string(timeout_.count()) + " ms";
        abort_locked(*s_, what);
        fail(EXG_ERR_COMM, what, "; ", hint(op), "the communicator is aborted");
    }

    // Polls the communicator's state and, once NCCL has enqueued the work (query_stream), the stream.
    void wait(const char* op, Clock::time_point deadline, bool query_stream) {
        const Clock::time_point start = Clock::now();
        for (;;) {
            {
                std::lock_guard<std::mutex> lock(s_->mu);
                check_usable_locked(op);
                ncclResult_t state = ncclSuccess;
                const ncclResult_t r = s_->nccl.comm_get_async_error(s_->comm, &state);
                if (r != ncclSuccess) state = r;
                if (state != ncclSuccess && state != ncclInProgress) fail_locked(op, state);
                if (state == ncclSuccess) {
                    if (!query_stream) return;
                    const cudaError_t e = cudaStreamQuery(stream_);
                    if (e == cudaSuccess) return;
                    if (e != cudaErrorNotReady) {
                        abort_locked(*s_, where(op) + ": the stream failed: " + cudaGetErrorString(e));
                        fail_cuda(e, "cudaStreamQuery", " (", where(op), "; the communicator is aborted)");
                    }
                    // Not-ready is no error; keep it out of this thread's last-error state, which kernel
                    // launch checks read.
                    if (cudaPeekAtLastError() == cudaErrorNotReady) cudaGetLastError();
                }
            }
            const Clock::time_point now = Clock::now();
            if (now >= deadline) {
                std::lock_guard<std::mutex> lock(s_->mu);
                const std::string what = where(op) + " timed out after " + std::to_string(timeout_.count()) + " ms";
                abort_locked(*s_, what);
                fail(EXG_ERR_COMM, what, "; ", hint(op), "the communicator is aborted");
            }
            pause(now - start);
        }
    }

    static const char* hint(const char* op) {
        return std::strcmp(op, "init") == 0
                   ? "not every rank joined (each must create its communicator with the same unique id and world "
                     "size); "
                   : "a peer did not make the matching call, or failed; ";
    }

    std::shared_ptr<Shared> s_;
    cudaStream_t stream_;
    int size_;
    int rank_;
    std::chrono::milliseconds timeout_;
    bool nonblocking_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(int device, cudaStream_t stream, const uint8_t* unique_id,
                                                     int32_t world_size, int32_t rank, uint32_t timeout_ms) {
    return std::make_unique<NcclCommunicator>(device, stream, unique_id, world_size, rank, timeout_ms);
}

void nccl_unique_id(uint8_t* id_out) {
    require(id_out != nullptr, EXG_ERR_INVALID_ARGUMENT, "nccl_unique_id: id_out is null");
    const NcclLibrary& nccl = nccl_library();
    ncclUniqueId id;
    const ncclResult_t r = nccl.get_unique_id(&id);
    require(r == ncclSuccess, EXG_ERR_COMM, "ncclGetUniqueId failed: ", nccl.describe(r, nullptr));
    std::memcpy(id_out, id.internal, sizeof id.internal);
}

}  // namespace exg::cuda
