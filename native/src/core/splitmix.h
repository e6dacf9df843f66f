// SplitMix64 (Steele, Lea & Flood): the stateless mixer behind seeded weights and sampling streams.
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

}  // namespace exg
