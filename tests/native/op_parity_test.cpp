// The op-parity harness (tests/native/ops) in GoogleTest:
//  - the CPU backend against the reference backend over the quick sweep;
//  - the CUDA backend (BF16 and F16) likewise where one can be created (skipped with the reason here);
//  - the harness itself at 16 bits, where no GPU is needed: an emulated F16/BF16 backend (storage rounded
//    like a GPU backend's, intermediates rounded where the contract allows) passes every case, and
//    emulated backends with one deliberate bug each fail exactly the cases that bug touches.
#include "backend/backend_registry.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/ref/ref_backend.h"
#include "core/dtype.h"
#include "emulated_backend.h"
#include "op_harness.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using exg::ops::OpCase;

std::string describe(const OpCase& c, const exg::ops::ParityResult& r) {
    return c.op + " " + c.shape + ": " + r.summary() + " (tolerance " + std::to_string(r.tolerance) + ")";
}

using exg::dtype_name;

class CpuOpParity : public ::testing::TestWithParam<OpCase> {};

TEST_P(CpuOpParity, MatchesReference) {
    exg::CpuBackend cpu(2);
    exg::RefBackend ref;
    const auto r = exg::ops::check_parity(GetParam(), cpu, ref);
    EXPECT_TRUE(r.ok) << describe(GetParam(), r);
}

INSTANTIATE_TEST_SUITE_P(Sweep, CpuOpParity, ::testing::ValuesIn(exg::ops::op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& param) { return param.param.op + "_" + std::to_string(param.index); });

// One CUDA backend per dtype for the whole suite (creating one costs a context), or why there is none.
exg::Backend* cuda_backend(exg_dtype dtype, std::string& why) {
    static std::map<exg_dtype, std::pair<std::unique_ptr<exg::Backend>, std::string>> made;
    auto it = made.find(dtype);
    if (it == made.end()) {
        std::unique_ptr<exg::Backend> b;
        std::string reason = exg::backend_unavailable_reason(EXG_BACKEND_CUDA);
        if (reason.empty()) {
            try {
                b = exg::create_backend({sizeof(exg_backend_params), EXG_BACKEND_CUDA, 0, 0, static_cast<int32_t>(dtype)});
            } catch (const std::exception& e) {
                reason = e.what();
            }
        }
        it = made.emplace(dtype, std::make_pair(std::move(b), reason)).first;
    }
    why = it->second.second;
    return it->second.first.get();
}

// Every quick case on a 16-bit target; one test per dtype (a CTest entry each, not one per case).
void expect_sweep_passes(exg::Backend& target) {
    exg::RefBackend ref;
    for (const auto& c : exg::ops::op_cases()) {
        const auto r = exg::ops::check_parity(c, target, ref);
        EXPECT_TRUE(r.ok) << target.name() << " " << describe(c, r);
    }
}

class CudaOpParity : public ::testing::TestWithParam<exg_dtype> {};

TEST_P(CudaOpParity, QuickSweepMatchesReference) {
    std::string why;
    exg::Backend* cuda = cuda_backend(GetParam(), why);
    if (cuda == nullptr) {
        // The backend can be missing here, but where CUDA is available, creating it must not fail.
        ASSERT_FALSE(exg::backend_available(EXG_BACKEND_CUDA))
            << "CUDA is available but the " << dtype_name(GetParam()) << " backend failed: " << why;
        GTEST_SKIP() << why;
    }
    expect_sweep_passes(*cuda);
}

class EmulatedOpParity : public ::testing::TestWithParam<exg_dtype> {};

// The worst legitimate 16-bit backend the contract allows passes every case: the tolerances are not
// too tight, and the harness's 16-bit plumbing (element sizes, conversions, exact parts) is right.
TEST_P(EmulatedOpParity, QuickSweepPassesWithinTolerance) {
    exg::ops::EmulatedHalfBackend emulated(GetParam());
    expect_sweep_passes(emulated);
}

std::string dtype_param_name(const ::testing::TestParamInfo<exg_dtype>& param) { return dtype_name(param.param); }

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaOpParity, ::testing::Values(EXG_DTYPE_BF16, EXG_DTYPE_F16), dtype_param_name);
INSTANTIATE_TEST_SUITE_P(Dtypes, EmulatedOpParity, ::testing::Values(EXG_DTYPE_BF16, EXG_DTYPE_F16), dtype_param_name);

// --- the harness catches bugs ---------------------------------------------------------------------------

// Runs every quick case of `op` (every case when op is empty) on `target` and returns those that failed.
std::vector<std::string> failing(exg::Backend& target, const std::string& op) {
    exg::RefBackend ref;
    std::vector<std::string> failed;
    for (const auto& c : exg::ops::op_cases())
        if (op.empty() || c.op == op)
            if (!exg::ops::check_parity(c, target, ref).ok) failed.push_back(c.op + " " + c.shape);
    return failed;
}

size_t count_cases(const std::string& op, const std::function<bool(const std::string&)>& matches) {
    size_t n = 0;
    for (const auto& c : exg::ops::op_cases())
        if (c.op == op && matches(c.shape)) ++n;
    return n;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

class Emulated : public exg::ops::EmulatedHalfBackend {
public:
    Emulated() : EmulatedHalfBackend(EXG_DTYPE_BF16) {}
};

TEST(HarnessCatches, GemmDroppingATerm) {
    struct Bug : Emulated {
        void gemm(const exg::GemmParams& p) override {
            auto q = p;
            q.k -= 1;  // the last column of a and w never enters the product
            Emulated::gemm(q);
        }
    } bug;
    EXPECT_EQ(failing(bug, "gemm").size(), count_cases("gemm", [](const std::string&) { return true; }));
}

TEST(HarnessCatches, GemmWritingPastTheRow) {
    struct Bug : Emulated {
        void gemm(const exg::GemmParams& p) override {
            Emulated::gemm(p);
            if (p.ldo > p.n && !p.out_f32) narrow(exg::offset(p.out, p.n, 2), std::vector<float>{0.0f});  // one column too far
        }
    } bug;
    EXPECT_EQ(failing(bug, "gemm").size(), count_cases("gemm", [](const std::string& s) { return contains(s, "ld+"); }));
}

TEST(HarnessCatches, AttentionIgnoringTheCausalMask) {
    struct Bug : Emulated {
        void attention(const exg::AttentionParams& p) override {
            auto q = p;
            q.causal = 0;
            Emulated::attention(q);
        }
    } bug;
    // Every causal prefill whose batch has a sequence longer than one token.
    const size_t expected = count_cases("attention", [](const std::string& s) {
        return contains(s, "prefill") && !contains(s, "non-causal") && !contains(s, "max_len=1 ");
    });
    EXPECT_EQ(failing(bug, "attention").size(), expected);
}

TEST(HarnessCatches, AttentionWritingAnUnusedSlot) {
    struct Bug : Emulated {
        void attention(const exg::AttentionParams& p) override {
            Emulated::attention(p);
            narrow(p.k_cache, std::vector<float>{0.0f});  // slot 0 is never in the batch
        }
    } bug;
    EXPECT_EQ(failing(bug, "attention").size(), count_cases("attention", [](const std::string&) { return true; }));
}

TEST(HarnessCatches, LayerNormNotStoringTheResidualSum) {
    struct Bug : Emulated {
        void layer_norm(const exg::LayerNormParams& p) override {
            if (p.residual == nullptr) return Emulated::layer_norm(p);
            const auto x = widen(p.x, p.rows * p.dim);
            Emulated::layer_norm(p);
            narrow(p.x, x);  // x keeps its old value
        }
    } bug;
    EXPECT_EQ(failing(bug, "layer_norm").size(), count_cases("layer_norm", [](const std::string& s) { return contains(s, "+residual"); }));
}

TEST(HarnessCatches, EmbeddingWithoutPositions) {
    struct Bug : Emulated {
        void embedding(const exg::EmbeddingParams& p) override {
            auto q = p;
            q.pos_table = nullptr;
            Emulated::embedding(q);
        }
    } bug;
    EXPECT_EQ(failing(bug, "embedding").size(), count_cases("embedding", [](const std::string& s) { return contains(s, "+positions"); }));
}

TEST(HarnessCatches, SamplingThatDrawsTwice) {
    struct Bug : Emulated {
        void sample(const exg::SampleParams& p) override {
            Emulated::sample(p);
            if (!p.sampling.greedy)
                for (int64_t r = 0; r < p.rows; ++r) p.rng_states[r] += 1;
        }
    } bug;
    EXPECT_EQ(failing(bug, "sample").size(), count_cases("sample", [](const std::string& s) { return !contains(s, "greedy"); }));
}

TEST(HarnessCatches, GreedyTiesToTheHigherIndex) {
    struct Bug : Emulated {
        void sample(const exg::SampleParams& p) override {
            if (!p.sampling.greedy) return Emulated::sample(p);
            for (int64_t r = 0; r < p.rows; ++r) {
                const float* l = p.logits + r * p.ld;
                int32_t best = 0;
                for (int32_t i = 1; i < p.vocab; ++i)
                    if (l[i] >= l[best]) best = i;
                p.tokens[r] = best;
            }
        }
    } bug;
    const auto failed = failing(bug, "sample");
    EXPECT_EQ(failed.size(), count_cases("sample", [](const std::string& s) { return contains(s, "greedy"); }));
}

// Inputs reach both sides already representable in the storage dtype, so a conversion that truncates
// instead of rounding corrupts nothing but the conversion cases themselves.
TEST(HarnessCatches, TruncatingConversionOnlyInTheConversionCases) {
    struct Bug : Emulated {
        void upload_f32(void* dst, const float* src, int64_t count) override {
            for (int64_t i = 0; i < count; ++i) {
                uint32_t bits;
                std::memcpy(&bits, &src[i], 4);
                static_cast<uint16_t*>(dst)[i] = static_cast<uint16_t>(bits >> 16);
            }
        }
    } bug;
    const auto failed = failing(bug, "");
    // All but the single 0.0 of the n=1 case, which truncates exactly.
    EXPECT_EQ(failed.size(), count_cases("convert", [](const std::string& s) { return !contains(s, "n=1 "); }));
    for (const auto& f : failed) EXPECT_EQ(f.rfind("convert", 0), 0u) << f;
}

}  // namespace
