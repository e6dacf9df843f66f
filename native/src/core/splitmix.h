// SplitMix64 (Steele, Lea & Flood): the stateless mixer behind seeded weights and sampling streams. The
// functions are host/device ones: the CUDA sampler (backend/cuda/sampling.cu) draws the same streams.
#pragma once

#include "core/host_device.h"

#include <cstdint>

namespace exg {

constexpr uint64_t kSplitMixIncrement = 0x9e3779b97f4a7c15ull;

// The output finaliser: a bijective avalanche of 64 bits.
EXG_HOST_DEVICE inline uint64_t splitmix_finalize(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// One step from state x: the value SplitMix64 produces after advancing x.
EXG_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) { return splitmix_finalize(x + kSplitMixIncrement); }

// The sampling streams (sampling/sampler.h rng_init): the next uniform in [0, 1) -- the top 53 bits of the
// next SplitMix64 output times 2^-53 -- advancing the state by one step. The CPU sampler, the reference
// backend and the CUDA sampler all draw through it.
EXG_HOST_DEVICE inline double rng_uniform(uint64_t& state) {
    state += kSplitMixIncrement;
    return static_cast<double>(splitmix_finalize(state) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace exg
