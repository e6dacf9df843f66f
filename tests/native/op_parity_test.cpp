// Every op of the CPU backend against the reference backend over the harness's shape sweeps.
#include "backend/cpu/cpu_backend.h"
#include "backend/ref/ref_backend.h"
#include "op_harness.h"

#include <gtest/gtest.h>

#include <string>

namespace {

class CpuOpParity : public ::testing::TestWithParam<exg::ops::OpCase> {};

TEST_P(CpuOpParity, MatchesReference) {
    exg::CpuBackend cpu(2);
    exg::RefBackend ref;
    const auto r = exg::ops::check_parity(GetParam(), cpu, ref);
    EXPECT_TRUE(r.ok) << GetParam().op << " " << GetParam().shape << ": max error " << r.max_abs_error << " ("
                      << r.error_vs_scale << " of the largest value)";
}

INSTANTIATE_TEST_SUITE_P(Sweep, CpuOpParity, ::testing::ValuesIn(exg::ops::op_cases()),
                         [](const ::testing::TestParamInfo<exg::ops::OpCase>& param) {
                             std::string name = param.param.op + "_" + std::to_string(param.index);
                             return name;
                         });

}  // namespace
