// attention: ragged causal prefill (lengths 1 .. beyond the CUDA tile sizes, on empty and on filled
// caches: chunked prefill; also bidirectional, as an encoder runs it) and decode (one token per sequence, contexts crossing the split-KV chunk
// boundaries), at head dims 64/80/96/128, batch 1..64, heads 1..16. Checked: the output, and both
// caches bit for bit (the new keys/values land at [past, past + len) of the right slot and head;
// nothing else changes: unused slots, positions past the end, other heads).
#include "op_support.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace exg::ops {
namespace {

struct SeqShape {
    int32_t past, len;
};

struct AttentionShape {
    std::string name;
    std::vector<SeqShape> seqs;
    int32_t heads, head_dim;
    bool decode = false;  // AttentionParams::decode (every len must then be 1)
    int64_t pad = 0;      // extra columns in the qkv and out rows (their strides)
    bool causal = true;   // false: an encoder's bidirectional attention (every row sees past + len keys)
};

// Queries are scaled so the scores q.k * scale spread with a standard deviation of ~1.3 (not ~0.3 as
// for unit-range q and k): the softmax is then peaked enough that the output carries its keys'
// identity and the running maximum of an online softmax changes from tile to tile.
constexpr float kQueryAmplitude = 4.0f;

class AttentionOp final : public OpInstance {
public:
    AttentionOp(Backend& b, const AttentionShape& s, exg_dtype dtype) : b_(b), s_(s) {
        const int32_t num_seqs = static_cast<int32_t>(s.seqs.size());
        hidden_ = static_cast<int64_t>(s.heads) * s.head_dim;
        int32_t max_seq = 1;
        for (int32_t i = 0; i < num_seqs; ++i) {
            slot_.push_back(num_seqs - i);  // slots out of order and slot 0 unused: no implicit mapping
            q_start_.push_back(tokens_);
            len_.push_back(s.seqs[static_cast<size_t>(i)].len);
            past_.push_back(s.seqs[static_cast<size_t>(i)].past);
            tokens_ += s.seqs[static_cast<size_t>(i)].len;
            max_seq = std::max(max_seq, s.seqs[static_cast<size_t>(i)].past + s.seqs[static_cast<size_t>(i)].len);
        }
        max_seq += 3;  // positions past every sequence's end must stay untouched
        const int64_t qkv_stride = 3 * hidden_ + s.pad;
        out_stride_ = hidden_ + s.pad;
        auto qkv = random_floats(static_cast<size_t>(tokens_ * qkv_stride), 10);
        for (int64_t t = 0; t < tokens_; ++t)
            for (int64_t c = 0; c < hidden_; ++c) qkv[static_cast<size_t>(t * qkv_stride + c)] *= kQueryAmplitude;
        round_through(qkv, dtype);
        qkv_ = Tensor(b, qkv);
        const int64_t head_stride = static_cast<int64_t>(max_seq) * s.head_dim;
        const int64_t cache = static_cast<int64_t>(num_seqs + 1) * s.heads * head_stride;
        k_ = Tensor(b, inputs(static_cast<size_t>(cache), 11, dtype));  // the "past" is whatever the cache holds
        v_ = Tensor(b, inputs(static_cast<size_t>(cache), 12, dtype));
        out_ = Tensor(b, inputs(static_cast<size_t>(tokens_ * out_stride_), 13, dtype));
        p_ = {num_seqs, slot_.data(), q_start_.data(), len_.data(), past_.data(), qkv_.data(), qkv_stride,
              out_.data(), out_stride_, k_.data(), v_.data(), s.heads * head_stride, head_stride, s.heads, s.head_dim,
              1.0f / std::sqrt(static_cast<float>(s.head_dim)), s.decode ? 1 : 0, s.causal ? 1 : 0};
    }
    void launch() override { b_.attention(p_); }
    std::vector<Output> result() override {
        const auto all = out_.read();
        std::vector<float> body, padding;
        for (int64_t t = 0; t < tokens_; ++t)
            for (int64_t c = 0; c < out_stride_; ++c) (c < hidden_ ? body : padding).push_back(all[static_cast<size_t>(t * out_stride_ + c)]);
        std::vector<Output> out{tolerance_output("out", std::move(body))};
        if (!padding.empty()) out.push_back(exact_output("out padding", std::move(padding)));
        out.push_back(exact_output("k_cache", k_.read()));
        out.push_back(exact_output("v_cache", v_.read()));
        return out;
    }

private:
    Backend& b_;
    AttentionShape s_;
    int64_t hidden_ = 0, out_stride_ = 0, tokens_ = 0;
    std::vector<int32_t> slot_, q_start_, len_, past_;
    Tensor qkv_, k_, v_, out_;
    AttentionParams p_{};
};

void add(std::vector<OpCase>& cases, const AttentionShape& s) {
    double flops = 0, elems = 0;
    int32_t tokens = 0, max_len = 0, max_ctx = 0;
    for (auto q : s.seqs) {
        for (int32_t i = 0; i < q.len; ++i) flops += 4.0 * (s.causal ? q.past + i + 1 : q.past + q.len) * s.heads * s.head_dim;  // q.k, p.v
        elems += 2.0 * (q.past + q.len) * s.heads * s.head_dim;  // the sequence's keys and values, read once
        tokens += q.len;
        max_len = std::max(max_len, q.len);
        max_ctx = std::max(max_ctx, q.past + q.len);
    }
    elems += 6.0 * tokens * s.heads * s.head_dim;  // qkv read, out and the new cache rows written
    const std::string shape = describe(s.name, ": batch ", s.seqs.size(), " heads=", s.heads, " head_dim=", s.head_dim,
                                       " max_len=", max_len, " max_ctx=", max_ctx, s.pad ? describe(" pad ", s.pad) : "",
                                       s.causal ? "" : " non-causal");
    cases.push_back({"attention", shape, flops, elems, 0,
                     [s](Backend& b, exg_dtype dtype) { return std::make_unique<AttentionOp>(b, s, dtype); }});
}

// Seeded ragged batches: lengths in [1, max_len], pasts in [0, max_past].
std::vector<SeqShape> ragged(int32_t batch, int32_t max_len, int32_t max_past, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<SeqShape> seqs;
    for (int32_t i = 0; i < batch; ++i) {
        const int32_t past = max_past > 0 ? static_cast<int32_t>(rng() % static_cast<uint32_t>(max_past + 1)) : 0;
        seqs.push_back({past, 1 + static_cast<int32_t>(rng() % static_cast<uint32_t>(max_len))});
    }
    return seqs;
}

// One decode token per sequence, contexts in [1, max_ctx].
std::vector<SeqShape> decode_batch(int32_t batch, int32_t max_ctx, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<SeqShape> seqs;
    for (int32_t i = 0; i < batch; ++i) seqs.push_back({static_cast<int32_t>(rng() % static_cast<uint32_t>(max_ctx)), 1});
    return seqs;
}

}  // namespace

void add_attention_cases(std::vector<OpCase>& cases, Sweep sweep) {
    add(cases, {"prefill ragged", {{0, 7}, {0, 1}, {0, 19}}, 4, 64});
    add(cases, {"prefill on cache", {{5, 3}, {0, 11}, {12, 4}}, 3, 80});
    add(cases, {"prefill past tiles", {{0, 130}, {3, 65}, {0, 1}}, 2, 96});
    add(cases, {"prefill long", {{0, 200}}, 1, 128});
    add(cases, {"prefill of single tokens", {{9, 1}, {40, 1}}, 2, 64});
    add(cases, {"prefill padded rows", {{0, 5}, {2, 3}}, 2, 64, false, 8});
    add(cases, {"decode", {{9, 1}, {0, 1}, {30, 1}, {3, 1}, {17, 1}}, 2, 96, true});
    add(cases, {"decode split boundaries", {{255, 1}, {511, 1}, {1000, 1}, {256, 1}}, 2, 128, true});
    add(cases, {"decode", {{100, 1}, {0, 1}}, 1, 80, true});
    add(cases, {"decode", {{300, 1}}, 3, 64, true});
    add(cases, {"decode padded rows", {{20, 1}, {7, 1}}, 2, 128, true, 8});
    add(cases, {"prefill bidirectional", {{0, 7}, {0, 1}, {3, 130}}, 2, 64, false, 0, false});
    add(cases, {"prefill bidirectional", {{0, 200}}, 1, 128, false, 0, false});
    if (sweep == Sweep::Quick) return;

    // Contexts either side of every multiple of 256 (the split-KV chunk) up to 2048.
    std::vector<SeqShape> boundaries;
    for (int32_t ctx : {1, 2, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 1536, 2047, 2048}) boundaries.push_back({ctx - 1, 1});
    for (int32_t d : {64, 80, 96, 128}) {
        add(cases, {"prefill ragged", {{0, 1}, {0, 17}, {0, 64}, {0, 65}, {0, 128}, {0, 129}, {0, 200}, {0, 3}}, 4, d});
        add(cases, {"chunked prefill", {{1, 1}, {64, 63}, {100, 128}, {300, 257}, {7, 1}}, 2, d});
        add(cases, {"prefill bidirectional", {{0, 1}, {0, 64}, {0, 129}, {40, 200}, {0, 3}}, 4, d, false, 0, false});
        add(cases, {"decode split boundaries", boundaries, 8, d, true});
        for (const auto& seq : boundaries) add(cases, {"decode one sequence", {seq}, 4, d, true});
        add(cases, {"decode batch", decode_batch(64, 2048, 40 + static_cast<uint32_t>(d)), 4, d, true});
    }
    for (int32_t batch : {1, 2, 16, 64})
        for (int32_t heads : {1, 8, 16}) {
            const auto seed = static_cast<uint32_t>(batch * 100 + heads);
            add(cases, {"prefill batch", ragged(batch, 96, 64, seed), heads, 128});
            add(cases, {"decode batch", decode_batch(batch, batch * heads > 256 ? 1024 : 2048, seed), heads, 128, true});
        }
    add(cases, {"prefill long", {{0, 1024}}, 2, 128});
    add(cases, {"prefill long", {{0, 2048}}, 1, 64});
    add(cases, {"prefill long bidirectional", {{0, 1024}}, 2, 128, false, 0, false});
    add(cases, {"chunked prefill long", {{1500, 548}, {0, 300}}, 1, 128});
}

}  // namespace exg::ops
