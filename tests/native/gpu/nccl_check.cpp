// Checks the NCCL communicator on this machine's GPUs (a plain program: the GPU machine has no
// GoogleTest). One GPU: unique ids, world-size-1 all-reduce (data unchanged) for F32/F16/BF16, argument
// errors, abort, and an init that times out because rank 1 never joins. Two or more GPUs: two ranks on
// threads — all-reduce sums (F32/F16/BF16, exact: operands are chosen so that every sum is representable),
// a send/recv round trip, and a collective that times out because rank 1 never calls it. Also prints
// the median time of a small world-size-1 all-reduce (the cost of the bounded wait after each call).
// Prints `N passed, N failed, N skipped`; exit status 1 on a failure, 77 when there is no GPU.
// NCCL comes from EXEGPT_NCCL_LIBRARY or the library path, as in the engine.
#include "backend/cuda/nccl/nccl_comm.h"
#include "backend/cuda/nccl/nccl_communicator.h"
#include "backend/cuda/nccl/nccl_loader.h"
#include "core/dtype.h"
#include "core/error.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using exg::Communicator;
using exg::Error;
using Clock = std::chrono::steady_clock;

int g_passed = 0, g_failed = 0, g_skipped = 0;

void report(bool ok, const std::string& name, const std::string& detail = "") {
    (ok ? g_passed : g_failed)++;
    std::printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    std::fflush(stdout);
}

void skip(const std::string& name, const std::string& why) {
    ++g_skipped;
    std::printf("SKIP %s: %s\n", name.c_str(), why.c_str());
}

void cuda(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Device memory and a non-blocking stream on one device (like the backend's compute stream).
struct Rank {
    explicit Rank(int dev, size_t bytes) : device(dev) {
        cuda(cudaSetDevice(device), "cudaSetDevice");
        cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        cuda(cudaMalloc(&data, bytes), "cudaMalloc");
    }
    ~Rank() {
        cudaSetDevice(device);
        cudaFree(data);
        cudaStreamDestroy(stream);
    }
    Rank(const Rank&) = delete;
    Rank& operator=(const Rank&) = delete;
    // Copies in stream order, like the backend's: the stream is non-blocking, so a plain cudaMemcpy
    // would not be ordered before the collective (and a pageable upload may return before it landed).
    void upload(const void* host, size_t bytes) const {
        cuda(cudaMemcpyAsync(data, host, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync");
        cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
    void download(void* host, size_t bytes) const {
        cuda(cudaMemcpyAsync(host, data, bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
        cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
    int device;
    cudaStream_t stream = nullptr;
    void* data = nullptr;
};

// Host F32 values -> storage bits of dtype, and back.
std::vector<uint8_t> encode(const std::vector<float>& v, exg_dtype t) {
    std::vector<uint8_t> out(v.size() * exg::dtype_size(t));
    for (size_t i = 0; i < v.size(); ++i) exg::f32_to_storage(t, v[i], &out[i * exg::dtype_size(t)]);
    return out;
}

std::vector<float> decode(const std::vector<uint8_t>& b, exg_dtype t) {
    std::vector<float> out(b.size() / exg::dtype_size(t));
    for (size_t i = 0; i < out.size(); ++i) out[i] = exg::storage_to_f32(t, &b[i * exg::dtype_size(t)]);
    return out;
}

// Rank r's operand at index i. F32: arbitrary bits (a two-operand sum is one correctly rounded addition,
// the same on the host). F16/BF16: multiples of 1/4 in [-8, 8], exact in either type, so every sum of
// two is exact too and no reduction order or rounding mode can change the result.
float operand(size_t i, int r, exg_dtype t) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u + static_cast<uint32_t>(r) * 40503u + 12345u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    if (t == EXG_DTYPE_F32) return (static_cast<float>(h % 2000001u) - 1000000.0f) * 1.37e-3f;
    return static_cast<float>(static_cast<int>(h % 65u) - 32) * 0.25f;
}

// Runs body(rank) on one thread per rank; returns each rank's error text ("" when it succeeded).
std::vector<std::string> on_ranks(int n, const std::function<void(int)>& body) {
    std::vector<std::string> errors(static_cast<size_t>(n));
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r)
        threads.emplace_back([&, r] {
            try {
                body(r);
            } catch (const std::exception& e) {
                errors[static_cast<size_t>(r)] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    return errors;
}

std::string join_errors(const std::vector<std::string>& errors) {
    std::string s;
    for (size_t r = 0; r < errors.size(); ++r)
        if (!errors[r].empty()) s += "rank " + std::to_string(r) + ": " + errors[r] + " ";
    return s;
}

std::vector<uint8_t> new_id() {
    std::vector<uint8_t> id(EXG_NCCL_UNIQUE_ID_BYTES);
    exg::cuda::nccl_unique_id(id.data());
    return id;
}

// Runs `call` and reports whether it threw exg::Error with `status` (and how long it took).
bool throws_status(const std::function<void()>& call, exg_status status, std::string& detail, double* elapsed_ms = nullptr) {
    const auto start = Clock::now();
    try {
        call();
        detail = "no error";
    } catch (const Error& e) {
        if (elapsed_ms) *elapsed_ms = ms_since(start);
        detail = "status " + std::to_string(static_cast<int>(e.status())) + ": " + e.what();
        return e.status() == status;
    } catch (const std::exception& e) {
        detail = std::string("unexpected exception: ") + e.what();
    }
    if (elapsed_ms) *elapsed_ms = ms_since(start);
    return false;
}

void check_unique_ids() {
    const std::vector<uint8_t> a = new_id(), b = new_id();
    const bool nonzero = std::any_of(a.begin(), a.end(), [](uint8_t x) { return x != 0; });
    report(nonzero && a != b, "unique ids are non-zero and differ");
}

// World size 1: an in-place all-reduce leaves the data as it was.
void check_world1_all_reduce(exg_dtype t) {
    const size_t count = 100003;
    Rank rank(0, count * 4);
    auto comm = exg::cuda::make_nccl_communicator(0, rank.stream, new_id().data(), 1, 0, 10000);
    std::vector<float> values(count);
    for (size_t i = 0; i < count; ++i) values[i] = operand(i, 0, t);
    const std::vector<uint8_t> bits = encode(values, t);
    rank.upload(bits.data(), bits.size());
    comm->all_reduce_sum(rank.data, count, t);
    std::vector<uint8_t> back(bits.size());
    rank.download(back.data(), back.size());
    report(back == bits && comm->stream_ordered() && comm->size() == 1 && comm->rank() == 0,
           std::string("world size 1 all_reduce_sum leaves ") + exg::dtype_safetensors_name(t) + " data unchanged");
}

void check_world1_arguments_and_abort() {
    Rank rank(0, 4096);
    auto comm = exg::cuda::make_nccl_communicator(0, rank.stream, new_id().data(), 1, 0, 10000);
    std::string d;
    report(throws_status([&] { comm->all_reduce_sum(rank.data, 0, EXG_DTYPE_F32); }, EXG_ERR_INVALID_ARGUMENT, d),
           "zero count is an invalid argument", d);
    report(throws_status([&] { comm->all_reduce_sum(nullptr, 4, EXG_DTYPE_F32); }, EXG_ERR_INVALID_ARGUMENT, d),
           "null data is an invalid argument", d);
    report(throws_status([&] { comm->all_reduce_sum(rank.data, 4, static_cast<exg_dtype>(7)); },
                         EXG_ERR_INVALID_ARGUMENT, d),
           "an unknown dtype is an invalid argument", d);
    report(throws_status([&] { comm->send(rank.data, 16, 0); }, EXG_ERR_INVALID_ARGUMENT, d),
           "send to oneself is an invalid argument", d);
    report(throws_status([&] { comm->recv(rank.data, 16, 1); }, EXG_ERR_INVALID_ARGUMENT, d),
           "recv from outside the group is an invalid argument", d);
    bool usable = true;
    try {
        comm->all_reduce_sum(rank.data, 16, EXG_DTYPE_F32);
    } catch (const std::exception& e) {
        usable = false;
        d = e.what();
    }
    report(usable, "the communicator stays usable after argument errors", usable ? "" : d);

    comm->abort();
    comm->abort();  // idempotent
    double ms = 0;
    const bool failed = throws_status([&] { comm->all_reduce_sum(rank.data, 16, EXG_DTYPE_F32); }, EXG_ERR_COMM, d, &ms);
    report(failed && ms < 100, "after abort() every call fails at once with EXG_ERR_COMM",
           d + " (" + std::to_string(ms) + " ms)");
    const auto start = Clock::now();
    comm.reset();
    report(ms_since(start) < 5000, "an aborted communicator is destroyed without waiting",
           std::to_string(ms_since(start)) + " ms");
}

// Rank 1 of 2 never joins: rank 0's init must fail with EXG_ERR_COMM near the deadline.
void check_init_timeout() {
    Rank rank(0, 16);
    const uint32_t timeout_ms = 3000;
    std::string d;
    double ms = 0;
    const std::vector<uint8_t> id = new_id();
    const bool comm_error = throws_status(
        [&] { exg::cuda::make_nccl_communicator(0, rank.stream, id.data(), 2, 0, timeout_ms); }, EXG_ERR_COMM, d, &ms);
    const bool in_time = ms >= timeout_ms * 0.9 && ms < timeout_ms + 10000;
    report(comm_error && in_time && d.find("rank 0 of 2") != std::string::npos,
           "init fails with EXG_ERR_COMM near the deadline when rank 1 never joins",
           d + " (" + std::to_string(ms) + " ms for a " + std::to_string(timeout_ms) + " ms timeout)");
}

// Median time of a small world-size-1 all-reduce: the cost of the bounded wait (informational).
void measure_world1_latency() {
    const size_t count = 4096;
    Rank rank(0, count * 4);
    auto comm = exg::cuda::make_nccl_communicator(0, rank.stream, new_id().data(), 1, 0, 10000);
    std::vector<double> us;
    for (int i = 0; i < 200; ++i) {
        const auto start = Clock::now();
        comm->all_reduce_sum(rank.data, count, EXG_DTYPE_F32);
        us.push_back(ms_since(start) * 1000);
    }
    std::sort(us.begin(), us.end());
    std::printf("INFO world size 1 all_reduce_sum of %zu f32: median %.1f us, p90 %.1f us\n", count, us[100], us[180]);
}

void check_two_rank_all_reduce(exg_dtype t, size_t count) {
    const std::vector<uint8_t> id = new_id();
    std::vector<std::vector<uint8_t>> results(2);
    const auto errors = on_ranks(2, [&](int r) {
        Rank rank(r, count * 4);
        auto comm = exg::cuda::make_nccl_communicator(r, rank.stream, id.data(), 2, r, 20000);
        std::vector<float> values(count);
        for (size_t i = 0; i < count; ++i) values[i] = operand(i, r, t);
        const std::vector<uint8_t> bits = encode(values, t);
        rank.upload(bits.data(), bits.size());
        comm->all_reduce_sum(rank.data, count, t);
        results[static_cast<size_t>(r)].resize(bits.size());
        rank.download(results[static_cast<size_t>(r)].data(), bits.size());
    });
    const std::string name =
        std::string("two ranks all_reduce_sum ") + exg::dtype_safetensors_name(t) + " x " + std::to_string(count);
    if (!join_errors(errors).empty()) return report(false, name, join_errors(errors));
    size_t bad = 0, first_bad = 0;
    for (int r = 0; r < 2; ++r) {
        const std::vector<float> got = decode(results[static_cast<size_t>(r)], t);
        for (size_t i = 0; i < count; ++i) {
            const float want = operand(i, 0, t) + operand(i, 1, t);  // exact for F16/BF16 (see operand)
            if (got[i] != want && bad++ == 0) first_bad = i;
        }
    }
    report(bad == 0, name,
           bad == 0 ? "" : std::to_string(bad) + " wrong elements, first at " + std::to_string(first_bad));
}

// Rank 0 sends a pattern to rank 1, which sends it back; rank 0 compares.
void check_two_rank_send_recv() {
    const size_t bytes = (1u << 20) + 7;
    const std::vector<uint8_t> id = new_id();
    std::vector<uint8_t> pattern(bytes), returned(bytes);
    for (size_t i = 0; i < bytes; ++i) pattern[i] = static_cast<uint8_t>(i * 7 + i / 251);
    const auto errors = on_ranks(2, [&](int r) {
        Rank rank(r, bytes);
        auto comm = exg::cuda::make_nccl_communicator(r, rank.stream, id.data(), 2, r, 20000);
        if (r == 0) {
            rank.upload(pattern.data(), bytes);
            comm->send(rank.data, bytes, 1);
            cuda(cudaMemsetAsync(rank.data, 0, bytes, rank.stream), "cudaMemsetAsync");
            comm->recv(rank.data, bytes, 1);
            rank.download(returned.data(), bytes);
        } else {
            comm->recv(rank.data, bytes, 0);
            comm->send(rank.data, bytes, 0);
        }
    });
    const std::string e = join_errors(errors);
    report(e.empty() && returned == pattern, "two ranks send/recv round trip of " + std::to_string(bytes) + " bytes",
           e.empty() ? (returned == pattern ? "" : "bytes differ") : e);
}

// Both ranks join; rank 1 never calls the all-reduce. Rank 0 must fail with EXG_ERR_COMM near the
// deadline, and fail at once afterwards.
void check_two_rank_collective_timeout() {
    const uint32_t timeout_ms = 2000;
    const std::vector<uint8_t> id = new_id();
    std::string detail, later;
    double ms = 0, later_ms = 0;
    bool timed_out = false, later_failed = false;
    const auto errors = on_ranks(2, [&](int r) {
        Rank rank(r, 4096);
        auto comm = exg::cuda::make_nccl_communicator(r, rank.stream, id.data(), 2, r, timeout_ms);
        if (r == 0) {
            timed_out = throws_status([&] { comm->all_reduce_sum(rank.data, 1024, EXG_DTYPE_F32); }, EXG_ERR_COMM,
                                      detail, &ms);
            later_failed = throws_status([&] { comm->all_reduce_sum(rank.data, 1024, EXG_DTYPE_F32); }, EXG_ERR_COMM,
                                         later, &later_ms);
        }
    });
    const std::string e = join_errors(errors);
    report(e.empty() && timed_out && ms >= timeout_ms * 0.9 && ms < timeout_ms + 10000,
           "a collective rank 1 never calls fails on rank 0 with EXG_ERR_COMM near the deadline",
           e + detail + " (" + std::to_string(ms) + " ms)");
    report(later_failed && later_ms < 100, "the timed-out communicator fails later calls at once", later);
}

}  // namespace

int main() {
    int devices = 0;
    const cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0) {
        std::printf("no CUDA device (%s): nothing to check\n0 passed, 0 failed, 1 skipped\n",
                    e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    try {
        const exg::cuda::NcclLibrary& nccl = exg::cuda::nccl_library();
        std::printf("NCCL %s from %s; %s communicators; %d GPU(s)\n",
                    exg::cuda::nccl_version_string(nccl.version).c_str(), nccl.path.c_str(),
                    nccl.nonblocking() ? "non-blocking" : "blocking (helper-thread)", devices);
    } catch (const std::exception& ex) {
        report(false, "NCCL loads", ex.what());
        std::printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
        return 1;
    }
    std::vector<std::pair<std::string, std::function<void()>>> checks = {
        {"unique ids", check_unique_ids},
        {"world 1 F32", [] { check_world1_all_reduce(EXG_DTYPE_F32); }},
        {"world 1 F16", [] { check_world1_all_reduce(EXG_DTYPE_F16); }},
        {"world 1 BF16", [] { check_world1_all_reduce(EXG_DTYPE_BF16); }},
        {"world 1 arguments and abort", check_world1_arguments_and_abort},
        {"world 1 latency", measure_world1_latency},
    };
    if (devices >= 2) {
        checks.insert(checks.end(), {
            {"two ranks F32", [] { check_two_rank_all_reduce(EXG_DTYPE_F32, 1); }},
            {"two ranks F32", [] { check_two_rank_all_reduce(EXG_DTYPE_F32, (1u << 20) + 3); }},
            {"two ranks BF16", [] { check_two_rank_all_reduce(EXG_DTYPE_BF16, (1u << 20) + 3); }},
            {"two ranks F16", [] { check_two_rank_all_reduce(EXG_DTYPE_F16, 4097); }},
            {"two ranks send/recv", check_two_rank_send_recv},
            {"two ranks collective timeout", check_two_rank_collective_timeout},
        });
    } else {
        checks.emplace_back("two-rank checks", [devices] {
            skip("two-rank checks", "they need 2 GPUs, this machine has " + std::to_string(devices));
        });
    }
    // Last: in a blocking build, the init that times out leaves its helper thread inside NCCL for good.
    checks.emplace_back("init timeout", check_init_timeout);
    for (const auto& [name, check] : checks) {
        try {
            check();
        } catch (const std::exception& ex) {
            report(false, name, ex.what());
        }
    }
    std::printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    return g_failed == 0 ? 0 : 1;
}
