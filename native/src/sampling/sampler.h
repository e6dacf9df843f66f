// Token selection from logits: greedy, or temperature / top-k / top-p sampling driven by a
// per-sequence counter-based stream so results do not depend on batch composition or threads.
#pragma once

#include "core/splitmix.h"  // rng_uniform: the next uniform of a stream

#include <exegpt/exegpt.h>

#include <cstdint>
#include <vector>

namespace exg {

// The start of stream `stream` under `seed`; rng_uniform (core/splitmix.h) draws from it.
uint64_t rng_init(uint64_t seed, uint64_t stream);

class Sampler {
public:
    // One row of logits -> token id.
    int32_t sample(const float* logits, int32_t vocab, const exg_sampling_params& p, uint64_t& rng_state);

private:
    std::vector<int32_t> order_;
    std::vector<double> probs_;
};

void validate_sampling(const exg_sampling_params& p);

}  // namespace exg
