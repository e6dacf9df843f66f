// sample: greedy (exact, ties to the lowest index), temperature, top-k, top-p and their combinations
// over seeded rows; the chosen tokens must equal the reference's and the rng states must advance
// identically. A non-greedy token may legitimately differ only where the reference's own numbers put
// it within kBoundaryMargin of a decision boundary (near_boundary below): a backend that sums the
// probabilities in another order or in F32 moves those boundaries by ~1e-6 of the mass.
#include "op_support.h"
#include "sampling_rule.h"

#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace exg::ops {
namespace {

using exg_test::sampling_rule;

// Fraction of the (kept) probability mass within which a boundary counts as a near tie. F32 block
// reductions over ~1e5 candidates carry ~log2(n) * 2^-24 ~ 1e-6 of relative error; 1e-4 is generous
// and still rare (about 2e-4 of the rows per boundary).
constexpr double kBoundaryMargin = 1e-4;

// Whether a backend computing the sampling rule (sampling/sampler.h) with a different but sound
// summation could pick another token for this row: the cumulative probability at some candidate lies
// within the margin of top_p (the nucleus cut) or of u * kept mass (the draw).
bool near_boundary(const float* logits, int64_t vocab, const exg_sampling_params& p, uint64_t state) {
    if (p.greedy) return false;
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    const auto k = static_cast<size_t>(p.top_k > 0 ? std::min<int64_t>(p.top_k, vocab) : vocab);
    if (k < order.size() || p.top_p < 1.0f)
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    order.resize(k);
    double top = -INFINITY;
    for (int32_t i : order) top = std::max(top, static_cast<double>(logits[i]));
    std::vector<double> w(k);
    double total = 0;
    for (size_t i = 0; i < k; ++i) total += w[i] = std::exp((logits[order[i]] - top) / static_cast<double>(p.temperature));
    bool near = false;
    size_t keep = k;
    if (p.top_p < 1.0f) {
        double mass = 0;
        for (size_t i = 0; i < k; ++i) {
            mass += w[i] / total;
            near = near || std::fabs(mass - p.top_p) < kBoundaryMargin;
            if (mass >= p.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double kept = 0;
    for (size_t i = 0; i < keep; ++i) kept += w[i];
    const double target = rng_uniform(state) * kept;
    double cumulative = 0;
    for (size_t i = 0; i < keep; ++i) {
        cumulative += w[i];
        near = near || std::fabs(cumulative - target) < kBoundaryMargin * kept;
    }
    return near;
}

struct SampleShape {
    int64_t rows, vocab, ld;
    exg_sampling_params params;
};

// Seeded logits with deliberate ties: every third row repeats its maximum at another index (greedy and
// the head of the order must take the lower one), every third row puts a second token on the value at
// the top-k cut (the lower index must win the last place).
std::vector<float> sample_logits(const SampleShape& s, uint32_t seed) {
    auto l = random_floats(static_cast<size_t>(s.rows * s.ld), seed, -4.0f, 4.0f);
    std::mt19937 rng(seed + 1);
    for (int64_t r = 0; r < s.rows; ++r) {
        float* row = l.data() + r * s.ld;
        const auto pick = [&] { return static_cast<int64_t>(rng() % static_cast<uint32_t>(s.vocab)); };
        if (r % 3 == 0 && s.vocab > 1) {
            const int64_t best = std::max_element(row, row + s.vocab) - row;
            int64_t twin = pick();
            if (twin == best) twin = (best + 1) % s.vocab;
            row[twin] = row[best];
        } else if (r % 3 == 1 && s.params.top_k > 0 && s.params.top_k < s.vocab) {
            std::vector<float> sorted(row, row + s.vocab);
            std::nth_element(sorted.begin(), sorted.begin() + (s.params.top_k - 1), sorted.end(), std::greater<float>());
            const float cut = sorted[static_cast<size_t>(s.params.top_k - 1)];
            for (int64_t tries = 0; tries < 16; ++tries) {
                const int64_t j = pick();
                if (row[j] < cut) {
                    row[j] = cut;
                    break;
                }
            }
        }
    }
    return l;
}

class SampleOp final : public OpInstance {
public:
    SampleOp(Backend& b, const SampleShape& s) : b_(b), s_(s) {
        const auto host = sample_logits(s, 50 + static_cast<uint32_t>(s.rows));
        logits_ = F32Buffer(b, host);
        for (int64_t r = 0; r < s.rows; ++r) {
            states_.push_back(rng_init(1234, static_cast<uint64_t>(r)));
            near_.push_back(near_boundary(host.data() + r * s.ld, s.vocab, s.params, states_.back()) ? 1 : 0);
        }
        tokens_.assign(static_cast<size_t>(s.rows), -1);
        p_ = {s.rows, s.vocab, logits_.data(), s.ld, s.params, states_.data(), tokens_.data()};
    }
    void launch() override { b_.sample(p_); }
    std::vector<Output> result() override {
        b_.synchronize();
        Output tokens, states;
        tokens.name = "tokens";
        states.name = "rng_states";
        tokens.compare = states.compare = Output::Compare::Words;
        for (int32_t t : tokens_) tokens.words.push_back(static_cast<uint64_t>(static_cast<int64_t>(t)));
        tokens.near_tie = near_;
        states.words = states_;
        return {std::move(tokens), std::move(states)};
    }

private:
    Backend& b_;
    SampleShape s_;
    F32Buffer logits_;
    std::vector<uint64_t> states_;
    std::vector<uint8_t> near_;
    std::vector<int32_t> tokens_;
    SampleParams p_{};
};

void add(std::vector<OpCase>& cases, int64_t rows, int64_t vocab, int64_t ld) {
    const exg_sampling_params rules[] = {
        sampling_rule(true, 1.0f, 0, 1.0f),     sampling_rule(false, 0.8f, 0, 1.0f),   sampling_rule(false, 1.0f, 1, 1.0f),
        sampling_rule(false, 1.0f, 40, 1.0f),   sampling_rule(false, 1.0f, 0, 0.9f),   sampling_rule(false, 0.7f, 50, 0.95f),
        sampling_rule(false, 1.5f, 0, 0.3f),    sampling_rule(false, 1.0f, static_cast<int32_t>(vocab) + 5, 1.0f),
    };
    for (const auto& r : rules) {
        const SampleShape s{rows, vocab, ld, r};
        const std::string rule = r.greedy ? std::string("greedy")
                                          : describe("T=", r.temperature, r.top_k > 0 ? describe(" top_k=", r.top_k) : "",
                                                     r.top_p < 1.0f ? describe(" top_p=", r.top_p) : "");
        cases.push_back({"sample", describe("rows=", rows, " vocab=", vocab, ld != vocab ? describe(" ld=", ld) : "", " ", rule), 0,
                         0, 4.0 * static_cast<double>(rows * vocab) + 12.0 * static_cast<double>(rows),
                         [s](Backend& b, exg_dtype) { return std::make_unique<SampleOp>(b, s); }});
    }
}

}  // namespace

void add_sample_cases(std::vector<OpCase>& cases, Sweep sweep) {
    add(cases, 8, 50272, 50272);
    add(cases, 64, 1000, 1003);
    add(cases, 3, 7, 7);
    if (sweep == Sweep::Full) {
        add(cases, 1, 32000, 32000);
        add(cases, 33, 50272, 50272 + 8);
        add(cases, 64, 128256, 128256);
    }
}

}  // namespace exg::ops
