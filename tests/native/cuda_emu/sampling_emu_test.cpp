// sampling.cu's kernels (greedy, plain temperature, top-k / top-p radix descent), run under the CPU
// emulation, against the CPU sampler (sampling/sampler.cpp): the same token AND the same advanced rng
// state for every row. Covers vocabularies from 1 to a few thousand (more than the 512 threads of a
// block), temperatures, top-k (1, small, vocab - 1, past the vocabulary), top-p (tiny to 0.99), their
// combination, many exact ties (also +0 / -0), -inf logits and rows of only -inf, and a leading
// dimension with padding the kernels must not read.
#include "emu_test_util.h"

#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace exg {
namespace {

struct Rule {
    const char* name;
    int greedy;
    float temperature;
    int top_k;  // -1: vocab - 1
    float top_p;
};

const Rule kRules[] = {
    {"greedy", 1, 1, 0, 1},        {"plain", 0, 1.0f, 0, 1},      {"plain-hot", 0, 0.3f, 0, 1},
    {"plain-cold", 0, 3.0f, 0, 1}, {"k1", 0, 1, 1, 1},            {"k2", 0, 0.7f, 2, 1},
    {"k5-p0.6", 0, 1, 5, 0.6f},    {"k50", 0, 1.3f, 50, 1},       {"p0.1", 0, 1, 0, 0.1f},
    {"p0.5", 0, 0.8f, 0, 0.5f},    {"p0.9", 0, 1, 0, 0.9f},       {"p0.99", 0, 2, 0, 0.99f},
    {"k-huge", 0, 1, 1 << 20, 1},  {"k3-flat", 0, 50, 3, 1},      {"p0.5-flat", 0, 50, 0, 0.5f},
    {"k7-p0.5-flat", 0, 50, 7, 0.5f}, {"k-vocab-1", 0, 1, -1, 1}, {"k40-p0.95", 0, 1, 40, 0.95f},
    {"p-tiny", 0, 1, 0, 1e-6f},
};

// Row contents per kind.
enum Kind { kNormal, kTies, kSignedZeros, kWide, kNegInf, kAllNegInf, kKinds };

class SamplingEmu : public testing::TestWithParam<int> {};

TEST_P(SamplingEmu, MatchesCpuSamplerTokensAndStates) {
    const int vocab = GetParam();
    std::mt19937 gen(1234u + static_cast<unsigned>(vocab));
    const int rows = 3;
    int checks = 0;
    for (const Rule& rule : kRules)
        for (int kind = 0; kind < kKinds; ++kind) {
            const int64_t ld = vocab + (kind % 2) * 3;  // odd kinds: padded rows
            std::vector<float> logits(static_cast<size_t>(rows * ld), 12345.0f);  // the padding would win if read
            std::normal_distribution<float> nd(0.0f, kind == kWide ? 8.0f : 2.0f);
            for (int r = 0; r < rows; ++r)
                for (int i = 0; i < vocab; ++i) {
                    float x = nd(gen);
                    if (kind == kTies) x = std::round(x * 2) / 2;
                    if (kind == kSignedZeros) x = i % 3 == 0 ? 0.0f : (i % 3 == 1 ? -0.0f : x);
                    if (kind == kNegInf) x = i % 5 == 0 ? -INFINITY : std::round(x);
                    if (kind == kAllNegInf) x = -INFINITY;
                    logits[static_cast<size_t>(r * ld + i)] = x;
                }
            const bool all_equal_row1 = kind == kTies;
            if (all_equal_row1)
                for (int i = 0; i < vocab; ++i) logits[static_cast<size_t>(ld + i)] = 1.5f;

            exg_sampling_params sp{};
            sp.struct_size = sizeof sp;
            sp.greedy = static_cast<uint8_t>(rule.greedy);
            sp.temperature = rule.temperature;
            sp.top_k = rule.top_k == -1 ? vocab - 1 : rule.top_k;
            sp.top_p = rule.top_p;
            std::vector<uint64_t> cpu_state(rows), emu_state(rows);
            for (int r = 0; r < rows; ++r)
                cpu_state[r] = emu_state[r] = rng_init(static_cast<uint64_t>(gen()), static_cast<uint64_t>(r));
            std::vector<int32_t> cpu_token(rows), emu_token(rows, -7);
            Sampler sampler;
            for (int r = 0; r < rows; ++r)
                cpu_token[r] = sampler.sample(&logits[static_cast<size_t>(r * ld)], vocab, sp, cpu_state[r]);

            cuda::SampleLaunch L{};
            L.rows = rows;
            L.vocab = vocab;
            L.logits = logits.data();
            L.ld = ld;
            L.greedy = sp.greedy;
            L.temperature = sp.temperature;
            L.top_k = sp.top_k;
            L.top_p = sp.top_p;
            L.rng_states = emu_state.data();
            L.tokens = emu_token.data();
            cuda::sample(L, nullptr);

            for (int r = 0; r < rows; ++r) {
                // sampling.cu documents one legitimate difference: n equal logits with top_p * n an integer
                // (the cut lands exactly on top_p) may keep one token fewer than the CPU's float running sum.
                const int kept_k = sp.top_k > 0 && sp.top_k < vocab ? sp.top_k : vocab;
                const double cut = static_cast<double>(sp.top_p) * kept_k;
                if (r == 1 && all_equal_row1 && !rule.greedy && sp.top_p < 1.0f && cut == std::floor(cut)) continue;
                ++checks;
                EXPECT_EQ(emu_token[r], cpu_token[r]) << "rule " << rule.name << ", row kind " << kind << ", row " << r;
                EXPECT_EQ(emu_state[r], cpu_state[r]) << "rng state, rule " << rule.name << ", row kind " << kind << ", row " << r;
            }
        }
    EXPECT_GT(checks, 0);
}

INSTANTIATE_TEST_SUITE_P(Vocab, SamplingEmu, testing::Values(1, 2, 3, 37, 600, 1500),
                         [](const auto& p) { return "v" + std::to_string(p.param); });

}  // namespace
}  // namespace exg
