// SplitMix64 (Steele, Lea & Flood): the stateless mixer behind seeded weights and sampling streams.
#pragma once

#include <cstdint>

// The CUDA sampler draws the same streams on the device (backend/cuda/sampling.cu).
#if defined(__CUDACC__)
#define EXG_SPLITMIX_FN __host__ __device__ inline
#else
#define EXG_SPLITMIX_FN inline
#endif

namespace exg {

constexpr uint64_t kSplitMixIncrement = 0x9e3779b97f4a7c15ull;

// The output finaliser: a bijective avalanche of 64 bits.
EXG_SPLITMIX_FN uint64_t splitmix_finalize(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// One step from state x: the value SplitMix64 produces after advancing x.
EXG_SPLITMIX_FN uint64_t splitmix64(uint64_t x) { return splitmix_finalize(x + kSplitMixIncrement); }

}  // namespace exg
