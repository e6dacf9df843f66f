// embedding (token rows, + learned positions in the same pass, accumulate), add and gather_rows.
#include "op_support.h"

#include <random>

namespace exg::ops {
namespace {

struct EmbeddingShape {
    int64_t rows, dim;
    int32_t vocab, id_offset;
    bool positions = false;
    bool accumulate = false;
};

class EmbeddingOp final : public OpInstance {
public:
    EmbeddingOp(Backend& b, const EmbeddingShape& s, exg_dtype dtype) : b_(b), s_(s) {
        constexpr int32_t kPositionOffset = 2;  // OPT's: rows of the position table before position 0
        constexpr int32_t kPositions = 300;
        std::mt19937 rng(7);
        for (int64_t r = 0; r < s.rows; ++r) {
            ids_.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(s.vocab)));
            pos_ids_.push_back(static_cast<int32_t>(rng() % kPositions));
        }
        table_ = Tensor(b, inputs(static_cast<size_t>((s.vocab + s.id_offset) * s.dim), 8, dtype));
        if (s.positions) positions_ = Tensor(b, inputs(static_cast<size_t>((kPositions + kPositionOffset) * s.dim), 10, dtype));
        out_ = Tensor(b, inputs(static_cast<size_t>(s.rows * s.dim), 9, dtype));
        p_ = {s.rows, s.dim, ids_.data(), s.id_offset, table_.data(), pos_ids_.data(), kPositionOffset,
              s.positions ? positions_.data() : nullptr, out_.data(), s.accumulate ? 1 : 0};
    }
    void launch() override { b_.embedding(p_); }
    std::vector<Output> result() override {
        // A plain lookup is a copy: exact. Sums are rounded to the storage dtype.
        if (!s_.positions && !s_.accumulate) return {exact_output("out", out_.read())};
        return {tolerance_output("out", out_.read())};
    }

private:
    Backend& b_;
    EmbeddingShape s_;
    std::vector<int32_t> ids_, pos_ids_;
    Tensor table_, positions_, out_;
    EmbeddingParams p_{};
};

class AddOp final : public OpInstance {
public:
    AddOp(Backend& b, int64_t n, exg_dtype dtype)
        : b_(b), n_(n), x_(b, inputs(static_cast<size_t>(n), 13, dtype)), y_(b, inputs(static_cast<size_t>(n), 14, dtype)) {}
    void launch() override { b_.add(x_.data(), y_.data(), n_); }
    std::vector<Output> result() override { return {tolerance_output("x", x_.read())}; }

private:
    Backend& b_;
    int64_t n_;
    Tensor x_, y_;
};

class GatherOp final : public OpInstance {
public:
    GatherOp(Backend& b, int64_t src_rows, std::vector<int32_t> rows, int64_t dim, exg_dtype dtype)
        : b_(b), rows_(std::move(rows)), dim_(dim), src_(b, inputs(static_cast<size_t>(src_rows * dim), 15, dtype)),
          dst_(b, inputs(rows_.size() * static_cast<size_t>(dim), 16, dtype)) {}
    void launch() override { b_.gather_rows(dst_.data(), src_.data(), rows_.data(), static_cast<int64_t>(rows_.size()), dim_); }
    std::vector<Output> result() override { return {exact_output("dst", dst_.read())}; }

private:
    Backend& b_;
    std::vector<int32_t> rows_;
    int64_t dim_;
    Tensor src_, dst_;
};

void add_embedding(std::vector<OpCase>& cases, const EmbeddingShape& s) {
    std::string shape = describe("rows=", s.rows, " dim=", s.dim, " vocab=", s.vocab, " offset=", s.id_offset);
    if (s.positions) shape += " +positions";
    if (s.accumulate) shape += " accumulate";
    const double elems = static_cast<double>(s.rows * s.dim) * (2 + (s.positions ? 1 : 0) + (s.accumulate ? 1 : 0));
    cases.push_back({"embedding", shape, 0, elems, 0,
                     [s](Backend& b, exg_dtype dtype) { return std::make_unique<EmbeddingOp>(b, s, dtype); }});
}

void add_add(std::vector<OpCase>& cases, int64_t n) {
    cases.push_back({"add", describe("n=", n), static_cast<double>(n), 3.0 * static_cast<double>(n), 0,
                     [n](Backend& b, exg_dtype dtype) { return std::make_unique<AddOp>(b, n, dtype); }});
}

void add_gather(std::vector<OpCase>& cases, int64_t src_rows, const std::vector<int32_t>& rows, int64_t dim) {
    std::string list;
    for (size_t i = 0; i < rows.size() && i < 6; ++i) list += describe(i ? "," : "", rows[i]);
    if (rows.size() > 6) list += ",...";
    cases.push_back({"gather_rows", describe(rows.size(), " rows [", list, "] of ", src_rows, " dim=", dim), 0,
                     2.0 * static_cast<double>(rows.size()) * static_cast<double>(dim), 0,
                     [=](Backend& b, exg_dtype dtype) { return std::make_unique<GatherOp>(b, src_rows, rows, dim, dtype); }});
}

}  // namespace

void add_elementwise_cases(std::vector<OpCase>& cases, Sweep sweep) {
    for (bool positions : {false, true})
        for (bool accumulate : {false, true}) add_embedding(cases, {37, 96, 500, 2, positions, accumulate});
    add_embedding(cases, {1, 131, 50, 0, true, false});
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{100003}}) add_add(cases, n);
    add_gather(cases, 7, {6, 0, 3, 3}, 257);
    add_gather(cases, 5, {4}, 8);
    if (sweep == Sweep::Full) {
        for (bool accumulate : {false, true}) add_embedding(cases, {2048, 5120, 4000, 0, true, accumulate});
        add_embedding(cases, {64, 4096, 32000, 0, false, false});
        add_add(cases, 5120 * 2048 + 1);
        std::vector<int32_t> rows;
        for (int32_t i = 0; i < 64; ++i) rows.push_back((i * 37) % 200);
        add_gather(cases, 200, rows, 5120);
    }
}

}  // namespace exg::ops
