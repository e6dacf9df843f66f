#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace exg::gpubench {

bool Options::runs(const std::string& section) const {
    return only.empty() || std::find(only.begin(), only.end(), section) != only.end();
}

exg_backend_params Options::backend_params() const {
    return {sizeof(exg_backend_params), backend, device, 0, backend == EXG_BACKEND_CPU ? -1 : dtype};
}

Timing time_calls(Backend& backend, const std::function<void(int64_t)>& call, int samples, double target_s) {
    using Clock = std::chrono::steady_clock;
    int64_t index = 0;
    call(index++);  // warm-up: first-call work (GEMM heuristics, workspaces, staging) stays out of the samples
    backend.synchronize();
    auto t0 = Clock::now();
    call(index++);
    backend.synchronize();
    const double probe = std::chrono::duration<double>(Clock::now() - t0).count();
    const int inner = static_cast<int>(std::clamp(std::ceil(target_s / std::max(probe, 1e-7)), 1.0, 10000.0));
    std::vector<double> per_call;
    for (int s = 0; s < std::max(1, samples); ++s) {
        t0 = Clock::now();
        for (int i = 0; i < inner; ++i) call(index++);
        backend.synchronize();
        per_call.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / inner);
    }
    return {median(per_call), inner, std::max(1, samples)};
}

void fill_random(Backend& backend, void* dst, int64_t count, uint32_t seed, float scale) {
    if (count <= 0) return;
    const int64_t block = std::min<int64_t>(count, int64_t{1} << 20);
    std::vector<float> host(static_cast<size_t>(block));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-scale, scale);
    for (auto& x : host) x = u(rng);
    backend.upload_f32(dst, host.data(), block);
    const size_t element = backend.element_size();
    char* base = static_cast<char*>(dst);
    for (int64_t filled = block; filled < count;) {
        const int64_t n = std::min(filled, count - filled);
        backend.copy(base + filled * static_cast<int64_t>(element), base, static_cast<size_t>(n) * element);
        filled += n;
    }
}

}  // namespace exg::gpubench
