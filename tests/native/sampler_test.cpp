// Sampling: greedy is argmax with lowest-index ties; top-k 1 and tiny top-p collapse to greedy;
// seeded streams are reproducible; frequencies follow the softmax.
#include "sampling/sampler.h"
#include "sampling_rule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

using exg_test::sampling_rule;

TEST(Sampler, GreedyTiesPickLowestIndex) {
    exg::Sampler s;
    uint64_t rng = 0;
    const std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
    EXPECT_EQ(s.sample(logits.data(), 4, sampling_rule(true), rng), 1);
    EXPECT_EQ(s.sample(logits.data(), 4, sampling_rule(false, 1.0f, 1), rng), 1);
    EXPECT_EQ(s.sample(logits.data(), 4, sampling_rule(false, 1.0f, 0, 1e-6f), rng), 1);
}

TEST(Sampler, FrequenciesFollowSoftmax) {
    exg::Sampler s;
    const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f};
    std::vector<int> counts(4);
    uint64_t rng = exg::rng_init(42, 0);
    const int draws = 40000;
    for (int i = 0; i < draws; ++i) ++counts[static_cast<size_t>(s.sample(logits.data(), 4, sampling_rule(false, 0.5f), rng))];
    double z = 0;
    for (float l : logits) z += std::exp(l / 0.5);
    for (size_t i = 0; i < 4; ++i) {
        const double p = std::exp(logits[i] / 0.5) / z;
        const double sd = std::sqrt(draws * p * (1 - p));
        EXPECT_NEAR(counts[i], draws * p, 5 * sd + 1) << "token " << i;
    }
}

TEST(Sampler, TopKNeverLeavesTheTopK) {
    exg::Sampler s;
    const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f, 1.5f};
    uint64_t rng = exg::rng_init(7, 3);
    for (int i = 0; i < 2000; ++i) {
        const int t = s.sample(logits.data(), 5, sampling_rule(false, 2.0f, 2), rng);
        ASSERT_TRUE(t == 2 || t == 4) << t;
    }
}

TEST(Sampler, SeededStreamsAreReproducibleAndIndependent) {
    uint64_t a = exg::rng_init(1, 0), b = exg::rng_init(1, 0), c = exg::rng_init(1, 1), d = exg::rng_init(2, 0);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_NE(a, d);
    EXPECT_EQ(exg::rng_uniform(a), exg::rng_uniform(b));
}

}  // namespace
