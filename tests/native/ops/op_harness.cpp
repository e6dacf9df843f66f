#include "op_harness.h"

#include <exegpt/exegpt.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <sstream>

namespace exg::ops {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

// A device copy of host data, owned by the backend it lives on.
Buffer to_device(Backend& b, const std::vector<float>& host) {
    Buffer buf(&b, host.size() * sizeof(float));
    b.upload(buf.data(), host.data(), host.size() * sizeof(float));
    return buf;
}

std::vector<float> to_host(Backend& b, const Buffer& buf, size_t count) {
    std::vector<float> host(count);
    b.synchronize();
    b.download(host.data(), buf.data(), count * sizeof(float));
    return host;
}

const char* act_name(int32_t a) {
    switch (a) {
        case EXG_ACT_RELU: return "relu";
        case EXG_ACT_GELU: return "gelu";
        case EXG_ACT_GELU_TANH: return "gelu_tanh";
        case EXG_ACT_SILU: return "silu";
        default: return "none";
    }
}

template <class... Parts>
std::string describe(const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    return os.str();
}

// --- gemm -------------------------------------------------------------------------------------

class GemmOp final : public OpInstance {
public:
    GemmOp(Backend& b, int64_t m, int64_t n, int64_t k, int32_t act, bool bias) : b_(b), m_(m), n_(n) {
        a_ = to_device(b, random_floats(static_cast<size_t>(m * k), 1));
        w_ = to_device(b, random_floats(static_cast<size_t>(n * k), 2));
        if (bias) bias_ = to_device(b, random_floats(static_cast<size_t>(n), 3));
        out_ = Buffer(&b, static_cast<size_t>(m * n) * sizeof(float));
        p_ = {m, n, k, a_.f32(), k, w_.f32(), k, bias ? bias_.f32() : nullptr, out_.f32(), n, act};
    }
    void launch() override { b_.gemm(p_); }
    std::vector<float> result() override { return to_host(b_, out_, static_cast<size_t>(m_ * n_)); }

private:
    Backend& b_;
    int64_t m_, n_;
    Buffer a_, w_, bias_, out_;
    GemmParams p_{};
};

// --- layer norm -------------------------------------------------------------------------------

class LayerNormOp final : public OpInstance {
public:
    LayerNormOp(Backend& b, int64_t rows, int64_t dim, bool affine) : b_(b), n_(static_cast<size_t>(rows * dim)) {
        auto x = random_floats(n_, 4);
        for (auto& v : x) v = v * 3.0f + 50.0f;  // a large mean must not cost precision
        x_ = to_device(b, x);
        if (affine) {
            g_ = to_device(b, random_floats(static_cast<size_t>(dim), 5));
            beta_ = to_device(b, random_floats(static_cast<size_t>(dim), 6));
        }
        out_ = Buffer(&b, n_ * sizeof(float));
        p_ = {rows, dim, x_.f32(), affine ? g_.f32() : nullptr, affine ? beta_.f32() : nullptr, out_.f32(), 1e-5f};
    }
    void launch() override { b_.layer_norm(p_); }
    std::vector<float> result() override { return to_host(b_, out_, n_); }

private:
    Backend& b_;
    size_t n_;
    Buffer x_, g_, beta_, out_;
    LayerNormParams p_{};
};

// --- embedding --------------------------------------------------------------------------------

class EmbeddingOp final : public OpInstance {
public:
    EmbeddingOp(Backend& b, int64_t rows, int64_t dim, int32_t vocab, int32_t offset, bool accumulate)
        : b_(b), n_(static_cast<size_t>(rows * dim)) {
        std::mt19937 rng(7);
        ids_.resize(static_cast<size_t>(rows));
        for (auto& id : ids_) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
        table_ = to_device(b, random_floats(static_cast<size_t>((vocab + offset) * dim), 8));
        out_ = to_device(b, random_floats(n_, 9));
        p_ = {rows, dim, ids_.data(), offset, table_.f32(), out_.f32(), accumulate};
    }
    void launch() override { b_.embedding(p_); }
    std::vector<float> result() override { return to_host(b_, out_, n_); }

private:
    Backend& b_;
    size_t n_;
    std::vector<int32_t> ids_;
    Buffer table_, out_;
    EmbeddingParams p_{};
};

// --- attention --------------------------------------------------------------------------------

struct SeqShape {
    int32_t past, len;
};

class AttentionOp final : public OpInstance {
public:
    AttentionOp(Backend& b, std::vector<SeqShape> seqs, int32_t heads, int32_t head_dim, int32_t max_seq)
        : b_(b), heads_(heads), head_dim_(head_dim) {
        const int32_t slots = static_cast<int32_t>(seqs.size()) + 1;
        const int64_t hidden = static_cast<int64_t>(heads) * head_dim;
        int32_t tokens = 0;
        for (size_t s = 0; s < seqs.size(); ++s) {
            slot_.push_back(static_cast<int32_t>(seqs.size() - s));  // slots out of order: no implicit mapping
            q_start_.push_back(tokens);
            len_.push_back(seqs[s].len);
            past_.push_back(seqs[s].past);
            tokens += seqs[s].len;
        }
        tokens_ = tokens;
        const size_t cache = static_cast<size_t>(slots) * heads * max_seq * head_dim;
        qkv_ = to_device(b, random_floats(static_cast<size_t>(tokens) * 3 * hidden, 10));
        k_ = to_device(b, random_floats(cache, 11));  // the "past" part is whatever the cache holds
        v_ = to_device(b, random_floats(cache, 12));
        out_ = Buffer(&b, static_cast<size_t>(tokens * hidden) * sizeof(float));
        cache_elems_ = cache;
        const int64_t head_stride = static_cast<int64_t>(max_seq) * head_dim;
        p_ = {static_cast<int32_t>(seqs.size()), slot_.data(), q_start_.data(), len_.data(), past_.data(), qkv_.f32(),
              3 * hidden, out_.f32(), hidden, k_.f32(), v_.f32(), heads * head_stride, head_stride, heads, head_dim,
              1.0f / std::sqrt(static_cast<float>(head_dim))};
    }
    void launch() override { b_.attention(p_); }
    // The output and both caches: the appended keys/values are part of the op's contract.
    std::vector<float> result() override {
        auto out = to_host(b_, out_, static_cast<size_t>(tokens_) * heads_ * head_dim_);
        for (const Buffer* c : {&k_, &v_}) {
            auto part = to_host(b_, *c, cache_elems_);
            out.insert(out.end(), part.begin(), part.end());
        }
        return out;
    }

private:
    Backend& b_;
    int32_t heads_, head_dim_, tokens_ = 0;
    size_t cache_elems_ = 0;
    std::vector<int32_t> slot_, q_start_, len_, past_;
    Buffer qkv_, k_, v_, out_;
    AttentionParams p_{};
};

// --- add, gather ------------------------------------------------------------------------------

class AddOp final : public OpInstance {
public:
    AddOp(Backend& b, int64_t n) : b_(b), n_(n), x_(to_device(b, random_floats(static_cast<size_t>(n), 13))),
                                   y_(to_device(b, random_floats(static_cast<size_t>(n), 14))) {}
    void launch() override { b_.add(x_.f32(), y_.f32(), n_); }
    std::vector<float> result() override { return to_host(b_, x_, static_cast<size_t>(n_)); }

private:
    Backend& b_;
    int64_t n_;
    Buffer x_, y_;
};

class GatherOp final : public OpInstance {
public:
    GatherOp(Backend& b, int64_t src_rows, std::vector<int32_t> rows, int64_t dim)
        : b_(b), rows_(std::move(rows)), dim_(dim), src_(to_device(b, random_floats(static_cast<size_t>(src_rows * dim), 15))),
          dst_(&b, rows_.size() * static_cast<size_t>(dim) * sizeof(float)) {}
    void launch() override { b_.gather_rows(dst_.f32(), src_.f32(), rows_.data(), static_cast<int64_t>(rows_.size()), dim_); }
    std::vector<float> result() override { return to_host(b_, dst_, rows_.size() * static_cast<size_t>(dim_)); }

private:
    Backend& b_;
    std::vector<int32_t> rows_;
    int64_t dim_;
    Buffer src_, dst_;
};

}  // namespace

std::vector<OpCase> op_cases() {
    std::vector<OpCase> cases;
    const double f = sizeof(float);
    struct Mnk { int64_t m, n, k; };
    // Every CPU path: GEMV (1 row), the small-batch kernel (2..8, odd n and k % 16 != 0 for its
    // tails), the transposed skinny GEMM (9..64) and plain GEMM.
    for (Mnk s : {Mnk{1, 64, 32}, Mnk{2, 64, 48}, Mnk{3, 130, 70}, Mnk{8, 97, 33}, Mnk{17, 256, 128}, Mnk{64, 96, 200},
                  Mnk{70, 96, 200}, Mnk{256, 512, 384}})
        for (int32_t act : {-1, int32_t{EXG_ACT_RELU}, int32_t{EXG_ACT_GELU}, int32_t{EXG_ACT_GELU_TANH}, int32_t{EXG_ACT_SILU}})
            for (bool bias : {false, true}) {
                if (!bias && act >= 0 && act != EXG_ACT_RELU) continue;  // keep the sweep small: epilogues with bias
                cases.push_back({"gemm", describe("m=", s.m, " n=", s.n, " k=", s.k, " act=", act_name(act), bias ? " bias" : ""),
                                 2.0 * s.m * s.n * s.k, f * (s.m * s.k + s.n * s.k + s.m * s.n),
                                 [=](Backend& b) { return std::make_unique<GemmOp>(b, s.m, s.n, s.k, act, bias); }});
            }
    for (auto [rows, dim] : {std::pair<int64_t, int64_t>{1, 64}, {5, 777}, {33, 1024}, {128, 2048}})
        for (bool affine : {true, false})
            cases.push_back({"layer_norm", describe("rows=", rows, " dim=", dim, affine ? "" : " no-affine"), 8.0 * rows * dim,
                             f * 2 * rows * dim, [=](Backend& b) { return std::make_unique<LayerNormOp>(b, rows, dim, affine); }});
    for (bool acc : {false, true})
        cases.push_back({"embedding", describe("rows=37 dim=96 vocab=500 offset=2", acc ? " accumulate" : ""), 0, f * 37 * 96 * (acc ? 3 : 2),
                         [=](Backend& b) { return std::make_unique<EmbeddingOp>(b, 37, 96, 500, 2, acc); }});
    // Ragged prefill over cached prefixes, pure decode, and long contexts, at the head dims the
    // CUDA kernels specialise (64, 80, 96, 128).
    struct Attn { const char* name; std::vector<SeqShape> seqs; int32_t heads, head_dim, max_seq; };
    const Attn attn[] = {
        {"prefill ragged", {{0, 7}, {0, 1}, {0, 19}}, 4, 64, 32},
        {"prefill on cache", {{5, 3}, {0, 11}, {12, 4}}, 3, 80, 32},
        {"decode batch 5", {{9, 1}, {0, 1}, {30, 1}, {3, 1}, {17, 1}}, 2, 96, 48},
        {"decode long", {{511, 1}, {1000, 1}}, 2, 128, 1024},
        {"prefill long", {{0, 200}}, 1, 128, 256},
    };
    for (const auto& a : attn) {
        double flops = 0, bytes = 0;
        for (auto s : a.seqs)
            for (int32_t i = 0; i < s.len; ++i) {
                const double ctx = s.past + i + 1;
                flops += 4.0 * ctx * a.heads * a.head_dim;         // q.k and p.v
                bytes += f * 2 * s.past * a.heads * a.head_dim / std::max(1, s.len);  // cached K/V read once per sequence
            }
        cases.push_back({"attention", describe(a.name, " heads=", a.heads, " head_dim=", a.head_dim), flops, bytes,
                         [a](Backend& b) { return std::make_unique<AttentionOp>(b, a.seqs, a.heads, a.head_dim, a.max_seq); }});
    }
    cases.push_back({"add", "n=100003", 100003, f * 3 * 100003, [](Backend& b) { return std::make_unique<AddOp>(b, 100003); }});
    cases.push_back({"gather_rows", "rows=[6,0,3,3] of 7 dim=257", 0, f * 2 * 4 * 257,
                     [](Backend& b) { return std::make_unique<GatherOp>(b, 7, std::vector<int32_t>{6, 0, 3, 3}, 257); }});
    return cases;
}

ParityResult check_parity(const OpCase& c, Backend& target, Backend& reference, double tolerance) {
    auto want = c.make(reference);
    want->launch();
    const auto expected = want->result();
    auto got = c.make(target);
    got->launch();
    const auto actual = got->result();
    ParityResult r;
    if (actual.size() != expected.size()) return r;
    double scale = 0;
    for (float v : expected) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    for (size_t i = 0; i < actual.size(); ++i) {
        const double err = std::fabs(static_cast<double>(actual[i]) - expected[i]);
        if (!(err <= r.max_abs_error)) r.max_abs_error = std::isnan(err) ? INFINITY : err;
    }
    r.error_vs_scale = r.max_abs_error / std::max(scale, 1e-30);
    r.ok = r.error_vs_scale <= tolerance;
    return r;
}

PerfResult measure(const OpCase& c, Backend& backend, int repeats) {
    auto op = c.make(backend);
    op->launch();  // warm-up
    backend.synchronize();
    std::vector<double> times;
    for (int i = 0; i < std::max(1, repeats); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        op->launch();
        backend.synchronize();
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    const double t = times[times.size() / 2];
    return {t * 1e3, c.flops / t / 1e9, c.bytes / t / 1e9};
}

}  // namespace exg::ops
