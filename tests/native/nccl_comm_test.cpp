// The NCCL communicator's waits, timeouts, aborts and ownership rules (backend/cuda/nccl/
// nccl_communicator.cpp), checked without a GPU: NCCL is the simulator of tests/native/nccl/fake_nccl.cpp
// (loaded through the real loader from EXG_FAKE_NCCL) and the few CUDA runtime calls the communicator
// makes are defined below, answering cudaStreamQuery from the simulator's pending work. This executable
// must not link libcudart (it only needs the CUDA headers). It is built twice: as is, it checks the
// blocking communicators (helper threads) of a build without nccl.h; with EXG_HAVE_NCCL_H and the test
// double tests/native/nccl/include/nccl.h, the non-blocking communicators a build against the real header
// uses (NCCL 2.14+).
#include "backend/cuda/nccl/nccl_comm.h"
#include "backend/cuda/nccl/nccl_communicator.h"
#include "backend/cuda/nccl/nccl_loader.h"
#include "error_expect.h"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using exg::Communicator;
using exg::Error;
using exg_test::contains;
using exg_test::error_of;
using Clock = std::chrono::steady_clock;

namespace {

struct FakeNccl {
    int (*stream_busy)(void* stream);
    void (*hold_enqueue)(int hold);
    void (*fail_pending)(int result);
    int (*aborts)();
    int (*destroys)();
    int (*misuses)();
};

template <class F>
void bind(void* handle, const char* name, F& f) {
    f = reinterpret_cast<F>(dlsym(handle, name));
    if (f == nullptr) throw std::runtime_error(std::string("the fake NCCL lacks ") + name);
}

// Points the process's NCCL at the simulator (once) and resolves its controls.
const FakeNccl& fake() {
    static const FakeNccl f = [] {
        setenv(exg::cuda::nccl_library_env, EXG_FAKE_NCCL, 1);
        exg::cuda::nccl_library();
        void* handle = dlopen(EXG_FAKE_NCCL, RTLD_NOW | RTLD_NOLOAD);  // the loader's handle
        if (handle == nullptr) throw std::runtime_error("the fake NCCL is not loaded");
        FakeNccl r{};
        bind(handle, "fake_nccl_stream_busy", r.stream_busy);
        bind(handle, "fake_nccl_hold_enqueue", r.hold_enqueue);
        bind(handle, "fake_nccl_fail_pending", r.fail_pending);
        bind(handle, "fake_nccl_aborts", r.aborts);
        bind(handle, "fake_nccl_destroys", r.destroys);
        bind(handle, "fake_nccl_misuses", r.misuses);
        return r;
    }();
    return f;
}

// The kind of communicator this build must pick. With EXG_HAVE_NCCL_H the test double include/nccl.h (2.19)
// makes nccl_api.h define EXG_NCCL_NONBLOCKING, as a real 2.14+ header does; without it neither is defined.
#if defined(EXG_HAVE_NCCL_H)
constexpr bool kNonblocking = true;
#else
constexpr bool kNonblocking = false;
#endif

thread_local int t_device = 0;
std::atomic<int> g_stream_error{cudaSuccess};  // what cudaStreamQuery reports instead of the simulator

}  // namespace

// The CUDA runtime as the communicator sees it: a current device per thread, and streams that are busy
// while the simulator holds work enqueued on them.
extern "C" {
cudaError_t cudaGetDevice(int* device) {
    *device = t_device;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
    t_device = device;
    return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t stream) {
    if (g_stream_error != cudaSuccess) return static_cast<cudaError_t>(g_stream_error.load());
    return fake().stream_busy(stream) != 0 ? cudaErrorNotReady : cudaSuccess;
}
cudaError_t cudaPeekAtLastError() { return cudaSuccess; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t e) {
    return e == cudaErrorIllegalAddress ? "an illegal memory access was encountered" : "another CUDA error";
}
const char* cudaGetErrorName(cudaError_t e) {
    return e == cudaErrorIllegalAddress ? "cudaErrorIllegalAddress" : "cudaErrorUnknown";
}
}

namespace {

// A distinct fake stream per (test, rank), so no test waits on another's leftovers.
cudaStream_t stream_of(int test, int rank) {
    return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(0x10000 + 0x100 * test + rank));
}

std::array<uint8_t, EXG_NCCL_UNIQUE_ID_BYTES> new_id() {
    fake();
    std::array<uint8_t, EXG_NCCL_UNIQUE_ID_BYTES> id{};
    exg::cuda::nccl_unique_id(id.data());
    return id;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// world_size communicators of one group, created on one thread per rank (init waits for all).
std::vector<std::unique_ptr<Communicator>> make_group(int test, int world_size, uint32_t timeout_ms) {
    const auto id = new_id();
    std::vector<std::unique_ptr<Communicator>> comms(static_cast<size_t>(world_size));
    std::vector<std::thread> threads;
    for (int r = 0; r < world_size; ++r)
        threads.emplace_back([&, r] {
            comms[static_cast<size_t>(r)] =
                exg::cuda::make_nccl_communicator(r, stream_of(test, r), id.data(), world_size, r, timeout_ms);
        });
    for (auto& t : threads) t.join();
    return comms;
}

// Waits (bounded) until pred() holds.
bool eventually(const std::function<bool()>& pred) {
    for (const auto start = Clock::now(); ms_since(start) < 5000;) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
}

// Every test ends with no NCCL call made on a non-blocking communicator still in progress.
class NcclComm : public testing::Test {
protected:
    void SetUp() override { misuses_ = fake().misuses(); }
    void TearDown() override { EXPECT_EQ(fake().misuses(), misuses_) << "an NCCL call while the last was in progress"; }

private:
    int misuses_ = 0;
};

}  // namespace

TEST_F(NcclComm, TheBuildPicksItsKindOfCommunicator) {
    EXPECT_EQ(exg::cuda::nccl_library().nonblocking(), kNonblocking);
}

TEST_F(NcclComm, CreationRefusesInvalidArgumentsBeforeTouchingNccl) {
    const auto id = new_id();
    EXPECT_EQ(error_of([&] { exg::cuda::make_nccl_communicator(0, stream_of(0, 0), id.data(), 0, 0, 100); }).status(),
              EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(error_of([&] { exg::cuda::make_nccl_communicator(0, stream_of(0, 0), id.data(), 2, 2, 100); }).status(),
              EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(error_of([&] { exg::cuda::make_nccl_communicator(0, stream_of(0, 0), nullptr, 1, 0, 100); }).status(),
              EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(error_of([] { exg::cuda::nccl_unique_id(nullptr); }).status(), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_NE(new_id(), new_id());
}

TEST_F(NcclComm, WorldOfOneKeepsTheDataAndTheCallersDevice) {
    const int destroys = fake().destroys(), aborts = fake().aborts();
    auto comm = std::move(make_group(1, 1, 2000)[0]);
    EXPECT_TRUE(comm->stream_ordered());
    EXPECT_EQ(comm->size(), 1);
    EXPECT_EQ(comm->rank(), 0);
    std::vector<float> data = {1.5f, -2.0f, 3.25f};
    t_device = 5;  // the caller's own device must be current again afterwards
    comm->all_reduce_sum(data.data(), data.size(), EXG_DTYPE_F32);
    EXPECT_EQ(t_device, 5);
    EXPECT_EQ(data, (std::vector<float>{1.5f, -2.0f, 3.25f}));
    t_device = 0;
    comm.reset();
    if (kNonblocking) {
        // Released with ncclCommAbort: finalize could wait for peers that are released one after another.
        EXPECT_EQ(fake().aborts(), aborts + 1);
        EXPECT_EQ(fake().destroys(), destroys);
    } else {
        EXPECT_EQ(fake().destroys(), destroys + 1);  // a healthy blocking communicator is destroyed, not aborted
        EXPECT_EQ(fake().aborts(), aborts);
    }
}

TEST_F(NcclComm, TwoRanksSumAndExchangeBytes) {
    auto comms = make_group(2, 2, 5000);
    std::vector<std::vector<float>> data = {{1.0f, 2.0f, -4.0f}, {10.0f, 0.5f, 4.0f}};
    std::vector<uint8_t> pattern(1000), returned(1000, 0), relay(1000, 0);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 13 + 1);
    std::vector<std::string> errors(2);
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r)
        threads.emplace_back([&, r] {
            try {
                Communicator& c = *comms[static_cast<size_t>(r)];
                c.all_reduce_sum(data[static_cast<size_t>(r)].data(), 3, EXG_DTYPE_F32);
                if (r == 0) {
                    c.send(pattern.data(), pattern.size(), 1);
                    c.recv(returned.data(), returned.size(), 1);
                } else {
                    c.recv(relay.data(), relay.size(), 0);
                    c.send(relay.data(), relay.size(), 0);
                }
            } catch (const std::exception& e) {
                errors[static_cast<size_t>(r)] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(errors, (std::vector<std::string>{"", ""}));
    for (const auto& d : data) EXPECT_EQ(d, (std::vector<float>{11.0f, 2.5f, 0.0f}));
    EXPECT_EQ(returned, pattern);
}

TEST_F(NcclComm, ArgumentErrorsLeaveTheCommunicatorUsable) {
    auto comm = std::move(make_group(3, 1, 2000)[0]);
    float x[4] = {1, 2, 3, 4};
    EXPECT_EQ(error_of([&] { comm->all_reduce_sum(x, 0, EXG_DTYPE_F32); }).status(), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(error_of([&] { comm->all_reduce_sum(nullptr, 4, EXG_DTYPE_F32); }).status(), EXG_ERR_INVALID_ARGUMENT);
    const Error bad_dtype = error_of([&] { comm->all_reduce_sum(x, 4, static_cast<exg_dtype>(3)); });
    EXPECT_EQ(bad_dtype.status(), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(bad_dtype.what(), "dtype 3"));
    EXPECT_EQ(error_of([&] { comm->send(x, 16, 0); }).status(), EXG_ERR_INVALID_ARGUMENT);  // itself
    EXPECT_EQ(error_of([&] { comm->recv(x, 16, 1); }).status(), EXG_ERR_INVALID_ARGUMENT);  // outside
    EXPECT_EQ(error_of([&] { comm->recv(x, 0, 0); }).status(), EXG_ERR_INVALID_ARGUMENT);
    comm->all_reduce_sum(x, 4, EXG_DTYPE_F32);  // still usable
}

TEST_F(NcclComm, InitTimesOutWhenARankNeverJoins) {
    const auto id = new_id();
    const auto start = Clock::now();
    const Error e = error_of([&] { exg::cuda::make_nccl_communicator(0, stream_of(4, 0), id.data(), 2, 0, 200); });
    const double ms = ms_since(start);
    EXPECT_EQ(e.status(), EXG_ERR_COMM);
    EXPECT_GE(ms, 180);
    EXPECT_LT(ms, 3000);
    EXPECT_TRUE(contains(e.what(), "NCCL init on rank 0 of 2 timed out after 200 ms"));
    EXPECT_TRUE(contains(e.what(), "not every rank joined"));
}

TEST_F(NcclComm, ACollectiveAPeerNeverCallsTimesOutAndAbortsTheCommunicator) {
    auto comms = make_group(5, 2, 500);
    const int aborts = fake().aborts();
    float x[2] = {1, 2};
    const auto start = Clock::now();
    const Error e = error_of([&] { comms[0]->all_reduce_sum(x, 2, EXG_DTYPE_F32); });
    const double ms = ms_since(start);
    EXPECT_EQ(e.status(), EXG_ERR_COMM);
    EXPECT_GE(ms, 450);
    EXPECT_LT(ms, 3500);
    EXPECT_TRUE(contains(e.what(), "NCCL all_reduce_sum on rank 0 of 2 timed out after 500 ms"));
    EXPECT_TRUE(contains(e.what(), "a peer did not make the matching call"));
    EXPECT_EQ(fake().aborts(), aborts + 1);
    EXPECT_FALSE(fake().stream_busy(stream_of(5, 0)));  // the abort drained the stream

    const auto again = Clock::now();
    const Error later = error_of([&] { comms[0]->send(x, 8, 1); });
    EXPECT_EQ(later.status(), EXG_ERR_COMM);
    EXPECT_LT(ms_since(again), 250);  // no second wait for the 500 ms deadline
    EXPECT_TRUE(contains(later.what(), "aborted earlier"));
    comms[0].reset();
    EXPECT_EQ(fake().aborts(), aborts + 1);  // not aborted twice
}

TEST_F(NcclComm, AnAsyncErrorFailsTheWaitAtOnce) {
    auto comms = make_group(6, 2, 10000);
    float x[2] = {1, 2};
    Error e(EXG_OK, "");
    double ms = 0;
    std::thread waiter([&] {
        const auto start = Clock::now();
        e = error_of([&] { comms[0]->all_reduce_sum(x, 2, EXG_DTYPE_F32); });
        ms = ms_since(start);
    });
    ASSERT_TRUE(eventually([&] { return fake().stream_busy(stream_of(6, 0)) != 0; }));
    fake().fail_pending(6);  // ncclRemoteError: the peer went away
    waiter.join();
    EXPECT_EQ(e.status(), EXG_ERR_COMM);
    EXPECT_LT(ms, 5000);
    EXPECT_TRUE(contains(e.what(), "NCCL all_reduce_sum on rank 0 of 2 failed: remote process exited"));
    EXPECT_TRUE(contains(e.what(), "fake last error"));
}

TEST_F(NcclComm, AbortFromAnotherThreadEndsAWaitingCall) {
    auto comms = make_group(7, 2, 10000);
    float x[2] = {1, 2};
    Error e(EXG_OK, "");
    std::thread waiter([&] { e = error_of([&] { comms[0]->all_reduce_sum(x, 2, EXG_DTYPE_F32); }); });
    ASSERT_TRUE(eventually([&] { return fake().stream_busy(stream_of(7, 0)) != 0; }));
    const auto start = Clock::now();
    comms[0]->abort();
    waiter.join();
    EXPECT_LT(ms_since(start), 5000);
    EXPECT_EQ(e.status(), EXG_ERR_COMM);
    EXPECT_TRUE(contains(e.what(), "abort() was called on rank 0"));
    const int aborts = fake().aborts();
    comms[0]->abort();  // idempotent
    EXPECT_EQ(fake().aborts(), aborts);
}

// A blocking NCCL call that never returns (e.g. connecting to a peer that never answers) is abandoned at
// the deadline; the communicator must not be freed under it: the helper aborts it once the call returns.
TEST_F(NcclComm, AHungCallIsAbandonedAndItsHelperAbortsTheCommunicatorWhenItReturns) {
    if (kNonblocking) GTEST_SKIP() << "non-blocking communicators make no blocking calls";
    auto comms = make_group(8, 2, 300);
    const int aborts = fake().aborts(), destroys = fake().destroys();
    float x[2] = {1, 2};
    fake().hold_enqueue(1);
    const auto start = Clock::now();
    const Error e = error_of([&] { comms[0]->all_reduce_sum(x, 2, EXG_DTYPE_F32); });
    EXPECT_EQ(e.status(), EXG_ERR_COMM);
    EXPECT_GE(ms_since(start), 270);
    EXPECT_TRUE(contains(e.what(), "timed out after 300 ms"));
    comms[0].reset();  // returns at once: the helper still owns the NCCL communicator
    EXPECT_EQ(fake().aborts(), aborts);
    EXPECT_EQ(fake().destroys(), destroys);
    fake().hold_enqueue(0);
    EXPECT_TRUE(eventually([&] { return fake().aborts() == aborts + 1; }));
    EXPECT_TRUE(eventually([&] { return fake().stream_busy(stream_of(8, 0)) == 0; }));
    comms[1].reset();
    EXPECT_EQ(fake().destroys(), destroys + 1);
}

TEST_F(NcclComm, AStreamFailureIsADeviceErrorAndAbortsTheCommunicator) {
    auto comm = std::move(make_group(9, 1, 2000)[0]);
    float x[2] = {1, 2};
    g_stream_error = cudaErrorIllegalAddress;
    const Error e = error_of([&] { comm->all_reduce_sum(x, 2, EXG_DTYPE_F32); });
    g_stream_error = cudaSuccess;
    EXPECT_EQ(e.status(), EXG_ERR_DEVICE);
    EXPECT_TRUE(contains(e.what(), "cudaStreamQuery"));
    EXPECT_TRUE(contains(e.what(), "an illegal memory access was encountered"));
    EXPECT_EQ(error_of([&] { comm->all_reduce_sum(x, 2, EXG_DTYPE_F32); }).status(), EXG_ERR_COMM);
}
