// The op-parity harness (after ggml's test-backend-ops): every backend op over shape sweeps, run on
// a backend under test and on the reference backend from the same seeded inputs, compared with a
// per-dtype tolerance; a perf mode times each op and reports GFLOP/s and GB/s. Used by the
// exegpt-ops tool (no GoogleTest needed: it runs on GPU machines) and by the native test suite.
#pragma once

#include "backend/backend.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace exg::ops {

// One op with its inputs in a backend's memory: launch() runs it, result() copies the outputs home.
class OpInstance {
public:
    virtual ~OpInstance() = default;
    virtual void launch() = 0;
    virtual std::vector<float> result() = 0;
};

struct OpCase {
    std::string op;     // "gemm", "attention", ...
    std::string shape;  // human-readable parameters
    double flops;       // per launch (0 when not meaningful)
    double bytes;       // memory traffic per launch (inputs read + outputs written, once)
    std::function<std::unique_ptr<OpInstance>(Backend&)> make;
};

// The shape sweeps of every op (ragged batches, head dims 64/80/96/128, all activations, ...).
std::vector<OpCase> op_cases();

struct ParityResult {
    double max_abs_error = 0;
    double error_vs_scale = 0;  // max |target - ref| / max |ref|
    bool ok = false;
};

// The F32 tolerance on error_vs_scale; lower-precision backends will bring their own.
constexpr double kF32Tolerance = 1e-5;

ParityResult check_parity(const OpCase& c, Backend& target, Backend& reference, double tolerance = kF32Tolerance);

struct PerfResult {
    double median_ms = 0, gflops = 0, gbps = 0;
};

PerfResult measure(const OpCase& c, Backend& backend, int repeats);

}  // namespace exg::ops
