// F16/BF16 conversions against hand-computed bit patterns (IEEE 754 binary16 / bfloat16).
#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

TEST(Dtype, F16KnownValues) {
    EXPECT_EQ(exg::f32_to_f16(1.0f), 0x3C00);
    EXPECT_EQ(exg::f32_to_f16(-2.0f), 0xC000);
    EXPECT_EQ(exg::f32_to_f16(65504.0f), 0x7BFF);             // largest finite
    EXPECT_EQ(exg::f32_to_f16(1e6f), 0x7C00);                 // overflow -> inf
    EXPECT_EQ(exg::f32_to_f16(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
    EXPECT_EQ(exg::f32_to_f16(std::ldexp(1.0f, -14)), 0x0400); // smallest normal
    EXPECT_EQ(exg::f32_to_f16(0.0f), 0x0000);
    EXPECT_EQ(exg::f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie -> even
    EXPECT_EQ(exg::f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
    EXPECT_FLOAT_EQ(exg::f16_to_f32(0x3555), 0.333251953125f);
    EXPECT_FLOAT_EQ(exg::f16_to_f32(0x0001), std::ldexp(1.0f, -24));
    EXPECT_TRUE(std::isinf(exg::f16_to_f32(0x7C00)));
    EXPECT_TRUE(std::isnan(exg::f16_to_f32(0x7E00)));
}

TEST(Dtype, F16RoundTripsEveryFiniteValue) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        if ((h & 0x7C00) == 0x7C00) continue;  // inf/nan
        const auto back = exg::f32_to_f16(exg::f16_to_f32(static_cast<uint16_t>(h)));
        ASSERT_EQ(back, h) << std::hex << h;
    }
}

TEST(Dtype, Bf16KnownValues) {
    EXPECT_EQ(exg::f32_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(exg::f32_to_bf16(-1.5f), 0xBFC0);
    EXPECT_EQ(exg::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);       // tie -> even
    EXPECT_EQ(exg::f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);   // tie -> even (up)
    EXPECT_FLOAT_EQ(exg::bf16_to_f32(0x4049), 3.140625f);
    EXPECT_TRUE(std::isnan(exg::bf16_to_f32(exg::f32_to_bf16(std::nanf("")))));
}

}  // namespace
