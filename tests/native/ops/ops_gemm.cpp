// gemm: out[m x n] = act(a[m x k] * w[n x k]^T + bias) with every activation, with and without bias,
// F32 outputs (the LM head), leading dimensions wider than the rows and operands that start at an odd
// element (the qkv thirds of a fused projection are such sub-tensors).
#include "op_support.h"

namespace exg::ops {
namespace {

struct GemmShape {
    int64_t m, n, k;
    int32_t activation = -1;  // exg_activation or -1
    bool bias = false;
    bool out_f32 = false;
    int64_t pad = 0;     // lda = k + pad, ldw = k + pad + 1, ldo = n + pad (when pad > 0)
    int64_t offset = 0;  // a and w start this many elements into their buffers
};

class GemmOp final : public OpInstance {
public:
    GemmOp(Backend& b, const GemmShape& s, exg_dtype dtype) : b_(b), s_(s) {
        lda_ = s.k + s.pad;
        ldw_ = s.pad > 0 ? s.k + s.pad + 1 : s.k;
        ldo_ = s.n + s.pad;
        a_ = Tensor(b, inputs(static_cast<size_t>(s.offset + s.m * lda_), 1, dtype));
        w_ = Tensor(b, inputs(static_cast<size_t>(s.offset + s.n * ldw_), 2, dtype));
        if (s.bias) bias_ = Tensor(b, inputs(static_cast<size_t>(s.n), 3, dtype));
        // The output starts as noise: columns past n (ldo > n) must keep it.
        auto noise = inputs(static_cast<size_t>(s.m * ldo_), 4, s.out_f32 ? EXG_DTYPE_F32 : dtype);
        if (s.out_f32) out_f32_ = F32Buffer(b, noise);
        else out_ = Tensor(b, noise);
        p_ = {s.m, s.n, s.k, a_.at(s.offset), lda_, w_.at(s.offset), ldw_, s.bias ? bias_.data() : nullptr,
              s.out_f32 ? static_cast<void*>(out_f32_.data()) : out_.data(), ldo_, s.activation, s.out_f32 ? 1 : 0};
    }
    void launch() override { b_.gemm(p_); }
    std::vector<Output> result() override {
        const auto all = s_.out_f32 ? out_f32_.read() : out_.read();
        std::vector<float> body, padding;
        for (int64_t r = 0; r < s_.m; ++r)
            for (int64_t c = 0; c < ldo_; ++c) (c < s_.n ? body : padding).push_back(all[static_cast<size_t>(r * ldo_ + c)]);
        std::vector<Output> out{tolerance_output("out", std::move(body))};
        if (!padding.empty()) out.push_back(exact_output("out padding", std::move(padding)));
        return out;
    }

private:
    Backend& b_;
    GemmShape s_;
    int64_t lda_ = 0, ldw_ = 0, ldo_ = 0;
    Tensor a_, w_, bias_, out_;
    F32Buffer out_f32_;
    GemmParams p_{};
};

void add(std::vector<OpCase>& cases, const GemmShape& s) {
    std::string shape = describe("m=", s.m, " n=", s.n, " k=", s.k, " act=", activation_name(s.activation), s.bias ? " bias" : "");
    if (s.out_f32) shape += " out_f32";
    if (s.pad > 0) shape += describe(" ld+", s.pad);
    if (s.offset > 0) shape += describe(" offset ", s.offset);
    const double out_elems = static_cast<double>(s.m * s.n);
    cases.push_back({"gemm", shape, 2.0 * s.m * s.n * s.k,
                     static_cast<double>(s.m * s.k + s.n * s.k + (s.bias ? s.n : 0)) + (s.out_f32 ? 0 : out_elems),
                     s.out_f32 ? 4 * out_elems : 0,
                     [s](Backend& b, exg_dtype dtype) { return std::make_unique<GemmOp>(b, s, dtype); }});
}

const int32_t kActivations[] = {-1, EXG_ACT_RELU, EXG_ACT_GELU, EXG_ACT_GELU_TANH, EXG_ACT_SILU};

}  // namespace

void add_gemm_cases(std::vector<OpCase>& cases, Sweep sweep) {
    struct Mnk {
        int64_t m, n, k;
    };
    // Every CPU path: GEMV (1 row), the small-batch kernel (2..8, odd n and k % 16 != 0 for its tails),
    // the transposed skinny GEMM (9..64) and plain GEMM.
    std::vector<Mnk> shapes = {{1, 64, 32}, {2, 64, 48}, {3, 130, 70}, {8, 97, 33}, {17, 256, 128}, {64, 96, 200},
                               {70, 96, 200}, {256, 512, 384}};
    if (sweep == Sweep::Full) {
        // Every decode batch size up to 64 at a transformer-like width, then prefill-sized products.
        for (int64_t m : {4, 5, 7, 9, 15, 16, 24, 31, 32, 33, 48, 63}) shapes.push_back({m, 768, 256});
        for (Mnk s : {Mnk{128, 4096, 1024}, Mnk{512, 1024, 4096}, Mnk{1000, 1024, 1024}, Mnk{2048, 320, 512}}) shapes.push_back(s);
    }
    for (Mnk s : shapes)
        for (int32_t act : kActivations)
            for (bool bias : {false, true}) {
                // Epilogues are exercised with a bias; without one, plain and ReLU (the bias-free epilogue).
                if (!bias && act >= 0 && act != EXG_ACT_RELU) continue;
                // The large shapes (the reference is slow) with bias only: plain, a fused epilogue (ReLU) and
                // the exact GELU cuBLASLt cannot fuse.
                const bool large = s.m * s.n * s.k > (int64_t{1} << 26);
                if (large && !(bias && (act < 0 || act == EXG_ACT_RELU || act == EXG_ACT_GELU))) continue;
                add(cases, {s.m, s.n, s.k, act, bias});
            }
    // F32 logits (the LM head), unaligned leading dimensions and operands at odd offsets: with every
    // activation where the small sizes keep the reference cheap.
    for (Mnk s : {Mnk{1, 130, 64}, Mnk{5, 257, 96}, Mnk{64, 128, 72}}) {
        add(cases, {s.m, s.n, s.k, -1, false, true});
        add(cases, {s.m, s.n, s.k, -1, true, true});
        for (int32_t act : kActivations) add(cases, {s.m, s.n, s.k, act, true, false, 3, 1});
        add(cases, {s.m, s.n, s.k, -1, false, false, 1, 0});
    }
    if (sweep == Sweep::Full) {
        for (int64_t m : {1, 2, 3, 8, 16, 33, 64}) add(cases, {m, 50272 / 8, 512, -1, false, true});  // LM-head-like
        add(cases, {300, 1000, 520, EXG_ACT_GELU, true, false, 7, 3});
        add(cases, {300, 1000, 520, -1, true, true, 5, 1});
    }
}

}  // namespace exg::ops
