// The op-parity harness (after ggml's test-backend-ops): every backend op over shape sweeps, run on
// a backend under test and on the reference backend from the same seeded inputs, compared with a
// per-dtype tolerance; a perf mode times each op and reports GFLOP/s and GB/s. Used by the
// exegpt-ops tool (no GoogleTest needed: it runs on GPU machines) and by the native test suite.
//
// Inputs are generated in F32 and rounded on the host through the target's storage dtype before
// either backend sees them (a BF16 backend would round them on upload anyway), so the F32 reference
// computes on exactly the values the target holds and the comparison measures the op's arithmetic,
// not the quantisation of its inputs.
#pragma once

#include "backend/backend.h"

#include <exegpt/exegpt.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace exg::ops {

// One named result of an op, in host memory: an output tensor, a cache it wrote, the tokens it chose.
struct Output {
    enum class Compare {
        Tolerance,  // |got - want| / max |want| within the dtype's tolerance
        Exact,      // bit for bit (any NaN equals any NaN): copies, cache writes, conversions
        Words       // integers (tokens, rng states) equal, except where the reference marks a near tie
    };
    std::string name;
    Compare compare = Compare::Tolerance;
    std::vector<float> values;      // Tolerance, Exact
    std::vector<uint64_t> words;    // Words
    std::vector<uint8_t> near_tie;  // Words, reference side: 1 where a different answer is legitimate
};

// One op with its inputs in a backend's memory: launch() runs it, result() copies the outputs home.
class OpInstance {
public:
    virtual ~OpInstance() = default;
    virtual void launch() = 0;
    virtual std::vector<Output> result() = 0;
};

struct OpCase {
    std::string op;     // "gemm", "attention", ...
    std::string shape;  // human-readable parameters
    double flops;       // per launch (0 when not meaningful)
    double elements;    // storage-dtype elements read + written per launch (perf: x the backend's element size)
    double fixed_bytes; // bytes whose size does not depend on the storage dtype (F32 logits, raw copies)
    // Builds the op on a backend, its random inputs rounded through `inputs` (the target's storage dtype).
    std::function<std::unique_ptr<OpInstance>(Backend&, exg_dtype inputs)> make;
};

// Quick: every op and every code path at small sizes (CI runs it on the CPU within seconds).
// Full: the GPU machine's sweep (batch 1..64, heads 1..16, contexts to 2048, large GEMMs).
enum class Sweep { Quick, Full };

std::vector<OpCase> op_cases(Sweep sweep = Sweep::Quick);

// Unit roundoff of a storage dtype: F32 2^-24, F16 2^-11, BF16 2^-8.
double unit_roundoff(exg_dtype dtype);
// The tolerance on error_vs_scale for a target of this storage dtype (see op_harness.cpp).
double tolerance(exg_dtype dtype);

struct PartResult {
    std::string name;
    double max_abs_error = 0;
    double error_vs_scale = 0;  // max |got - want| / max |want| (Tolerance parts)
    int64_t mismatches = 0;     // Exact / Words parts: entries that differ (near ties not counted)
    int64_t near_ties = 0;      // Words parts: entries that differ where the reference allows it
    bool ok = false;
};

struct ParityResult {
    double max_abs_error = 0;   // over the Tolerance parts
    double error_vs_scale = 0;  // the largest of the parts'
    int64_t near_ties = 0;
    double tolerance = 0;
    bool ok = false;
    std::vector<PartResult> parts;
    std::string summary() const;  // "out 1.2e-03, k_cache exact, v_cache 3 mismatches"
};

ParityResult check_parity(const OpCase& c, Backend& target, Backend& reference);
ParityResult check_parity(const OpCase& c, Backend& target, Backend& reference, double tolerance);

struct PerfResult {
    double median_ms = 0, gflops = 0, gbps = 0;
};

PerfResult measure(const OpCase& c, Backend& backend, int repeats);

}  // namespace exg::ops
