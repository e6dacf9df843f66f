#include "sampling/sampler.h"

#include "core/error.h"
#include "core/splitmix.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace exg {

uint64_t rng_init(uint64_t seed, uint64_t stream) {
    return splitmix_finalize(splitmix64(seed) ^ (stream * 0xd1b54a32d192ed03ull + 1));
}

void validate_sampling(const exg_sampling_params& p) {
    require(p.struct_size == sizeof(exg_sampling_params), EXG_ERR_INVALID_ARGUMENT, "sampling params: struct_size is ",
            p.struct_size, ", expected ", sizeof(exg_sampling_params));
    if (p.greedy) return;
    require(p.temperature > 0.0f && std::isfinite(p.temperature), EXG_ERR_INVALID_ARGUMENT,
            "sampling params: temperature must be positive, got ", p.temperature);
    require(p.top_p > 0.0f && p.top_p <= 1.0f, EXG_ERR_INVALID_ARGUMENT, "sampling params: top_p must be in (0, 1], got ",
            p.top_p);
}

int32_t Sampler::sample(const float* logits, int32_t vocab, const exg_sampling_params& p, uint64_t& rng_state) {
    if (p.greedy) {
        int32_t best = 0;  // strict '>' keeps the lowest index on ties
        for (int32_t i = 1; i < vocab; ++i)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    const int32_t k = p.top_k > 0 ? std::min(p.top_k, vocab) : vocab;
    if (k == vocab && p.top_p >= 1.0f) {
        // Plain temperature sampling needs no ordering: one pass over the vocabulary.
        const float max_logit = *std::max_element(logits, logits + vocab);
        double total = 0.0;
        probs_.resize(static_cast<size_t>(vocab));
        for (int32_t i = 0; i < vocab; ++i) total += probs_[static_cast<size_t>(i)] = std::exp((logits[i] - max_logit) / static_cast<double>(p.temperature));
        const double target = rng_uniform(rng_state) * total;
        double cumulative = 0.0;
        for (int32_t i = 0; i < vocab; ++i) {
            cumulative += probs_[static_cast<size_t>(i)];
            if (target < cumulative) return i;
        }
        return vocab - 1;
    }
    // Candidates in descending logit order (ties: lower index first), cut to top_k.
    order_.resize(static_cast<size_t>(vocab));
    std::iota(order_.begin(), order_.end(), 0);
    auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
    order_.resize(static_cast<size_t>(k));

    probs_.resize(order_.size());
    const double max_logit = logits[order_[0]];
    double total = 0.0;
    for (size_t i = 0; i < order_.size(); ++i) {
        probs_[i] = std::exp((logits[order_[i]] - max_logit) / static_cast<double>(p.temperature));
        total += probs_[i];
    }
    // Nucleus: the smallest prefix whose probability reaches top_p (always at least one token).
    size_t keep = order_.size();
    if (p.top_p < 1.0f) {
        double cumulative = 0.0;
        for (size_t i = 0; i < order_.size(); ++i) {
            cumulative += probs_[i] / total;
            if (cumulative >= p.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double kept_total = 0.0;
    for (size_t i = 0; i < keep; ++i) kept_total += probs_[i];
    const double target = rng_uniform(rng_state) * kept_total;
    double cumulative = 0.0;
    for (size_t i = 0; i < keep; ++i) {
        cumulative += probs_[i];
        if (target < cumulative) return order_[i];
    }
    return order_[keep - 1];
}

}  // namespace exg
