// An exg_sampling_params from its four rules, for the tests that sample (the op sweep, the sampler's and
// exg_model_sample's tests). Needs no GoogleTest, like the rest of the op harness.
#pragma once

#include <exegpt/exegpt.h>

#include <cstdint>

namespace exg_test {

inline exg_sampling_params sampling_rule(bool greedy, float temperature = 1.0f, int32_t top_k = 0, float top_p = 1.0f) {
    exg_sampling_params p{};
    p.struct_size = sizeof p;
    p.greedy = greedy ? 1 : 0;
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    return p;
}

}  // namespace exg_test
