// Token selection from logits: greedy, or temperature / top-k / top-p sampling driven by a
// per-sequence counter-based stream so results do not depend on batch composition or threads.
#pragma once

#include <exegpt/exegpt.h>

#include <cstdint>
#include <vector>

namespace exg {

uint64_t rng_init(uint64_t seed, uint64_t stream);
// Next uniform in [0, 1) from the stream; advances the state.
double rng_uniform(uint64_t& state);

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
