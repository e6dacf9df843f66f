#include "op_harness.h"

#include "core/dtype.h"
#include "op_support.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <random>

namespace exg::ops {

// --- shared helpers (op_support.h) -------------------------------------------------------------------

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

void round_through(std::vector<float>& values, exg_dtype dtype) {
    unsigned char bits[4];
    for (auto& x : values) {
        f32_to_storage(dtype, x, bits);
        x = storage_to_f32(dtype, bits);
    }
}

std::vector<float> inputs(size_t n, uint32_t seed, exg_dtype dtype, float lo, float hi) {
    auto v = random_floats(n, seed, lo, hi);
    round_through(v, dtype);
    return v;
}

Tensor::Tensor(Backend& b, int64_t count) : b_(&b), count_(count), buf_(&b, static_cast<size_t>(count) * b.element_size()) {}

Tensor::Tensor(Backend& b, const std::vector<float>& values) : Tensor(b, static_cast<int64_t>(values.size())) {
    b.upload_f32(buf_.data(), values.data(), count_);
}

std::vector<float> Tensor::read() const {
    std::vector<float> host(static_cast<size_t>(count_));
    b_->synchronize();
    b_->download_f32(host.data(), buf_.data(), count_);
    return host;
}

F32Buffer::F32Buffer(Backend& b, const std::vector<float>& values)
    : b_(&b), count_(values.size()), buf_(&b, values.size() * sizeof(float)) {
    b.upload(buf_.data(), values.data(), count_ * sizeof(float));
}

std::vector<float> F32Buffer::read() const {
    std::vector<float> host(count_);
    b_->synchronize();
    b_->download(host.data(), buf_.data(), count_ * sizeof(float));
    return host;
}

Output tolerance_output(std::string name, std::vector<float> values) {
    Output o;
    o.name = std::move(name);
    o.values = std::move(values);
    return o;
}

Output exact_output(std::string name, std::vector<float> values) {
    Output o = tolerance_output(std::move(name), std::move(values));
    o.compare = Output::Compare::Exact;
    return o;
}

const char* activation_name(int32_t activation) {
    switch (activation) {
        case EXG_ACT_RELU: return "relu";
        case EXG_ACT_GELU: return "gelu";
        case EXG_ACT_GELU_TANH: return "gelu_tanh";
        case EXG_ACT_SILU: return "silu";
        default: return "none";
    }
}

// --- sweeps, tolerances, comparison ---------------------------------------------------------------------

std::vector<OpCase> op_cases(Sweep sweep) {
    std::vector<OpCase> cases;
    add_gemm_cases(cases, sweep);
    add_norm_cases(cases, sweep);
    add_elementwise_cases(cases, sweep);
    add_memory_cases(cases, sweep);
    add_attention_cases(cases, sweep);
    add_sample_cases(cases, sweep);
    return cases;
}

double unit_roundoff(exg_dtype dtype) {
    switch (dtype) {
        case EXG_DTYPE_F16: return std::ldexp(1.0, -11);
        case EXG_DTYPE_BF16: return std::ldexp(1.0, -8);
        default: return std::ldexp(1.0, -24);
    }
}

// F32 (the CPU backend, F32 accumulation against the reference's double): 1e-5. The longest
// reductions here are ~2k terms (attention contexts, GEMM k); rounding errors of a sum of k terms grow
// like sqrt(k) * 2^-24 in practice (~3e-6 at k = 2048), while an indexing or masking bug costs >= 1e-3.
//
// F16 / BF16: 4u (u = 2^-11 or 2^-8: 1.95e-3 and 1.56e-2). The inputs are exact in the storage dtype
// (rounded on the host for both sides), so the error is the op's own arithmetic:
//  - 1u: the output rounded to the storage dtype, |fl(y) - y| <= u |y| <= u * scale;
//  - <= 2u: one intermediate rounding to the storage dtype that the kernels may legitimately make,
//    carried through a derivative of at most ~1.1 (a GEMM result rounded before a separate
//    bias/activation pass, the residual sum stored in x before the norm reads it, the softmax
//    probabilities rounded to 16 bits for the P.V tensor-core product);
//  - F32 accumulation over <= 8k terms: sqrt(k) * 2^-24 < 1e-5, negligible next to u.
// That is <= 3.3u; 4u leaves a margin and still fails a wrong key, mask or head (errors of the order of
// the values themselves).
double tolerance(exg_dtype dtype) { return dtype == EXG_DTYPE_F32 ? 1e-5 : 4.0 * unit_roundoff(dtype); }

namespace {

bool same_bits(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    uint32_t x, y;
    std::memcpy(&x, &a, 4);
    std::memcpy(&y, &b, 4);
    return x == y;
}

PartResult compare(const Output& got, const Output& want, double tol) {
    PartResult r;
    r.name = want.name;
    switch (want.compare) {
        case Output::Compare::Tolerance: {
            if (got.values.size() != want.values.size()) {
                r.error_vs_scale = r.max_abs_error = INFINITY;
                return r;
            }
            double scale = 0;
            for (float v : want.values)
                if (std::isfinite(v)) scale = std::max(scale, static_cast<double>(std::fabs(v)));
            for (size_t i = 0; i < got.values.size(); ++i) {
                const double err = std::fabs(static_cast<double>(got.values[i]) - want.values[i]);
                if (std::isnan(err) && !(std::isnan(got.values[i]) && std::isnan(want.values[i]))) r.max_abs_error = INFINITY;
                else if (err > r.max_abs_error) r.max_abs_error = err;
            }
            r.error_vs_scale = r.max_abs_error == 0 ? 0 : r.max_abs_error / (scale > 0 ? scale : 1e-30);
            r.ok = r.error_vs_scale <= tol;
            return r;
        }
        case Output::Compare::Exact: {
            const size_t n = std::min(got.values.size(), want.values.size());
            r.mismatches = static_cast<int64_t>(std::max(got.values.size(), want.values.size()) - n);
            for (size_t i = 0; i < n; ++i) {
                if (same_bits(got.values[i], want.values[i])) continue;
                ++r.mismatches;
                r.max_abs_error = std::max(r.max_abs_error, std::fabs(static_cast<double>(got.values[i]) - want.values[i]));
            }
            r.ok = r.mismatches == 0;
            return r;
        }
        case Output::Compare::Words: {
            const size_t n = std::min(got.words.size(), want.words.size());
            r.mismatches = static_cast<int64_t>(std::max(got.words.size(), want.words.size()) - n);
            for (size_t i = 0; i < n; ++i) {
                if (got.words[i] == want.words[i]) continue;
                if (i < want.near_tie.size() && want.near_tie[i]) ++r.near_ties;
                else ++r.mismatches;
            }
            r.ok = r.mismatches == 0;
            return r;
        }
    }
    return r;
}

}  // namespace

std::string ParityResult::summary() const {
    std::ostringstream os;
    for (size_t i = 0; i < parts.size(); ++i) {
        const auto& p = parts[i];
        os << (i ? ", " : "") << p.name << " ";
        if (p.mismatches > 0) os << p.mismatches << " mismatches";
        else if (p.error_vs_scale > 0) os << std::scientific << std::setprecision(2) << p.error_vs_scale;
        else os << "exact";
        if (p.near_ties > 0) os << " (" << p.near_ties << " near ties)";
    }
    return os.str();
}

ParityResult check_parity(const OpCase& c, Backend& target, Backend& reference) {
    return check_parity(c, target, reference, tolerance(target.dtype()));
}

ParityResult check_parity(const OpCase& c, Backend& target, Backend& reference, double tol) {
    auto want_op = c.make(reference, target.dtype());
    want_op->launch();
    const auto want = want_op->result();
    want_op.reset();
    auto got_op = c.make(target, target.dtype());
    got_op->launch();
    const auto got = got_op->result();

    ParityResult r;
    r.tolerance = tol;
    r.ok = got.size() == want.size();
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
        auto part = compare(got[i], want[i], tol);
        r.ok = r.ok && part.ok;
        r.max_abs_error = std::max(r.max_abs_error, want[i].compare == Output::Compare::Tolerance ? part.max_abs_error : 0.0);
        r.error_vs_scale = std::max(r.error_vs_scale, part.error_vs_scale);
        r.near_ties += part.near_ties;
        r.parts.push_back(std::move(part));
    }
    return r;
}

PerfResult measure(const OpCase& c, Backend& backend, int repeats) {
    auto op = c.make(backend, backend.dtype());
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
    const double bytes = c.elements * static_cast<double>(backend.element_size()) + c.fixed_bytes;
    return {t * 1e3, c.flops / t / 1e9, bytes / t / 1e9};
}

}  // namespace exg::ops
