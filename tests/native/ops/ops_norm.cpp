// layer_norm: LayerNorm and RMSNorm, with and without the affine parameters, with the fused residual
// add (whose sum the op writes back to x: checked too) and in place (out == x).
#include "op_support.h"

namespace exg::ops {
namespace {

struct NormShape {
    int64_t rows, dim;
    bool rms = false;
    bool affine = true;
    bool residual = false;
    bool in_place = false;    // out == x (only without residual)
    bool large_mean = false;  // x around 50 with spread 3: a one-pass variance would lose it
};

class LayerNormOp final : public OpInstance {
public:
    LayerNormOp(Backend& b, const NormShape& s, exg_dtype dtype) : b_(b), s_(s) {
        const auto n = static_cast<size_t>(s.rows * s.dim);
        auto x = random_floats(n, 4);
        if (s.large_mean)
            for (auto& v : x) v = v * 3.0f + 50.0f;
        round_through(x, dtype);
        x_ = Tensor(b, x);
        if (s.residual) residual_ = Tensor(b, inputs(n, 7, dtype));
        if (s.affine) {
            gamma_ = Tensor(b, inputs(static_cast<size_t>(s.dim), 5, dtype));
            if (!s.rms) beta_ = Tensor(b, inputs(static_cast<size_t>(s.dim), 6, dtype));
        }
        if (!s.in_place) out_ = Tensor(b, static_cast<int64_t>(n));
        p_ = {s.rows, s.dim, x_.data(), s.residual ? residual_.data() : nullptr, s.affine ? gamma_.data() : nullptr,
              s.affine && !s.rms ? beta_.data() : nullptr, s.in_place ? x_.data() : out_.data(), 1e-5f, s.rms ? 1 : 0};
    }
    void launch() override { b_.layer_norm(p_); }
    std::vector<Output> result() override {
        std::vector<Output> out{tolerance_output("out", s_.in_place ? x_.read() : out_.read())};
        if (s_.residual) out.push_back(tolerance_output("x (residual sum)", x_.read()));
        return out;
    }

private:
    Backend& b_;
    NormShape s_;
    Tensor x_, residual_, gamma_, beta_, out_;
    LayerNormParams p_{};
};

void add(std::vector<OpCase>& cases, const NormShape& s) {
    std::string shape = describe("rows=", s.rows, " dim=", s.dim, s.rms ? " rms" : " ln", s.affine ? "" : " no-affine");
    if (s.residual) shape += " +residual";
    if (s.in_place) shape += " in-place";
    if (s.large_mean) shape += " mean~50";
    const double elems = static_cast<double>(s.rows * s.dim) * (s.residual ? 4 : 2);  // x (+ residual, + x written back), out
    cases.push_back({"layer_norm", shape, 8.0 * s.rows * s.dim, elems, 0,
                     [s](Backend& b, exg_dtype dtype) { return std::make_unique<LayerNormOp>(b, s, dtype); }});
}

}  // namespace

void add_norm_cases(std::vector<OpCase>& cases, Sweep sweep) {
    struct RowsDim {
        int64_t rows, dim;
    };
    std::vector<RowsDim> shapes = {{1, 64}, {5, 777}, {33, 1024}, {128, 2048}};
    if (sweep == Sweep::Full)
        for (RowsDim s : {RowsDim{1, 5120}, RowsDim{64, 768}, RowsDim{7, 4096}, RowsDim{512, 5120}, RowsDim{3, 9216},
                          RowsDim{2048, 1024}, RowsDim{16, 12288}})
            shapes.push_back(s);
    for (RowsDim d : shapes) {
        for (bool rms : {false, true})
            for (bool affine : {true, false}) add(cases, {d.rows, d.dim, rms, affine, false, false, !rms});
        // The fused residual add. Zero-mean data: a storage-dtype backend may normalise either the F32 sum
        // or the sum it stored in x; near a large mean those differ by the rounding of x, not by a bug.
        add(cases, {d.rows, d.dim, false, true, true});
        add(cases, {d.rows, d.dim, true, true, true});
    }
    add(cases, {3, 257, false, true, false, true});
    add(cases, {3, 257, true, false, false, true});
}

}  // namespace exg::ops
