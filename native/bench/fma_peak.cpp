// The machine's peak FP32 rate, measured: every core runs independent FMA chains at the widest
// vector width the CPU supports (compiled per target, chosen at run time).
#include "fma_peak.h"

#include <omp.h>

#include <chrono>
#include <immintrin.h>

namespace {

constexpr int kChains = 12;  // enough independent accumulators to cover FMA latency x pipes

__attribute__((target("avx512f"))) double run_avx512(long iters) {
    __m512 acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
    const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    alignas(64) float out[16];
    float sink = 0;
    for (int i = 0; i < kChains; ++i) {
        _mm512_store_ps(out, acc[i]);
        for (float v : out) sink += v;
    }
    return sink;
}

__attribute__((target("avx2,fma"))) double run_avx2(long iters) {
    __m256 acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
    const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    alignas(32) float out[8];
    float sink = 0;
    for (int i = 0; i < kChains; ++i) {
        _mm256_store_ps(out, acc[i]);
        for (float v : out) sink += v;
    }
    return sink;
}

}  // namespace

FmaPeak measure_fma_peak(int threads) {
    FmaPeak result{};
    const bool avx512 = __builtin_cpu_supports("avx512f");
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!avx512 && !avx2) return result;
    result.isa = avx512 ? "avx512f" : "avx2+fma";
    const int lanes = avx512 ? 16 : 8;
    const long iters = 20'000'000;
    volatile double sink = 0;
    double best = 0;
    for (int rep = 0; rep < 9; ++rep) {  // best of 9: a shared VM's neighbours only ever slow it down
        const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
        {
            const double s = avx512 ? run_avx512(iters) : run_avx2(iters);
#pragma omp atomic
            sink = sink + s;
        }
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double flops = 2.0 * lanes * kChains * static_cast<double>(iters) * threads;
        if (flops / sec > best) best = flops / sec;
    }
    result.gflops = best / 1e9;
    return result;
}
