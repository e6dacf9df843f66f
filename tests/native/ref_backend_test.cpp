// The reference backend is the yardstick for every other backend, so it is checked against values
// worked out by hand.
#include "backend/ref/ref_backend.h"

#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

TEST(RefBackend, GemmBiasRelu) {
    exg::RefBackend b;
    const float a[4] = {1, 2, 3, 4};         // 2 x 2
    const float w[6] = {1, 0, 0, 1, 1, -1};  // 3 x 2 (HF [out, in])
    const float bias[3] = {0.5f, -10, 0};
    float out[6];
    b.gemm({2, 3, 2, a, 2, w, 2, bias, out, 3, EXG_ACT_RELU, 0});
    const float expected[6] = {1.5f, 0, 0, 3.5f, 0, 0};  // row 0: 1+.5, relu(2-10), relu(1-2)
    for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
}

TEST(RefBackend, LayerNormOfOneTwoThree) {
    exg::RefBackend b;
    float x[3] = {1, 2, 3};
    const float g[3] = {2, 2, 2}, beta[3] = {1, 1, 1};
    float out[3];
    b.layer_norm({1, 3, x, nullptr, g, beta, out, 0.0f, 0});
    const float z = std::sqrt(1.5f);  // (x - 2) / sqrt(2/3)
    EXPECT_FLOAT_EQ(out[0], 1 - 2 * z);
    EXPECT_FLOAT_EQ(out[1], 1);
    EXPECT_FLOAT_EQ(out[2], 1 + 2 * z);
}

TEST(RefBackend, AttentionTwoTokensOneHead) {
    exg::RefBackend b;
    // One head of dim 1; token 0: q=1 k=0 v=2, token 1: q=1 k=ln 3 v=6. Token 1 weighs keys 0 and ln 3
    // as softmax(0, ln 3) = (1/4, 3/4): out = 0.5 + 4.5 = 5. Token 0 sees only itself: out = 2.
    const float qkv[6] = {1, 0, 2, 1, std::log(3.0f), 6};
    float out[2], k[2] = {0, 0}, v[2] = {0, 0};
    const int32_t slot = 0, start = 0, len = 2, past = 0;
    b.attention({1, &slot, &start, &len, &past, qkv, 3, out, 1, k, v, 2, 2, 1, 1, 1.0f, 0, 1});
    EXPECT_FLOAT_EQ(out[0], 2.0f);
    EXPECT_NEAR(out[1], 5.0f, 1e-6);
    EXPECT_FLOAT_EQ(v[1], 6.0f);  // appended to the cache
}

}  // namespace
