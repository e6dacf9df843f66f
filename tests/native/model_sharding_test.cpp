// Whole-model invariants through the C ABI: KV-cache decode equals recomputation, and tensor- and
// pipeline-parallel shards reproduce the single-shard logits.
#include "api_fixture.h"

#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using exg_test::single_batch;

struct Shard : exg_test::ApiModel {
    int32_t slot = -1;
};

std::unique_ptr<Shard> make_shard(const char* preset, int32_t begin, int32_t end, int32_t rank, int32_t size, exg_comm* comm) {
    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    EXPECT_EQ(exg_config_preset(preset, &mp.config), EXG_OK);
    mp.seed = 1234;
    mp.layer_begin = begin;
    mp.layer_end = end < 0 ? mp.config.num_layers : end;
    mp.tp_rank = rank;
    mp.tp_size = size;
    mp.comm = comm;
    auto s = std::make_unique<Shard>();
    EXPECT_EQ(exg_model_create(exg_test::shared_cpu_backend(), &mp, &s->model), EXG_OK) << exg_last_error_message();
    exg_kv_cache_params kp{sizeof(exg_kv_cache_params), 4, 64};
    EXPECT_EQ(exg_kv_cache_create(s->model, &kp, &s->cache), EXG_OK);
    EXPECT_EQ(exg_kv_cache_alloc_slot(s->cache, &s->slot), EXG_OK);
    return s;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, float tol) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << "index " << i;
}

const std::vector<int32_t> kPrompt = {2, 17, 5, 99, 42, 7, 63};

class Presets : public ::testing::TestWithParam<const char*> {};

TEST_P(Presets, DecodeEqualsRecompute) {
    const int32_t vocab = 128, n = static_cast<int32_t>(kPrompt.size());
    auto full = make_shard(GetParam(), 0, -1, 0, 1, nullptr);
    std::vector<float> want(vocab), got(vocab);
    auto b = single_batch(&full->slot, &n, kPrompt.data(), nullptr, nullptr, want.data());
    ASSERT_EQ(exg_model_prefill(full->model, full->cache, &b), EXG_OK);

    auto inc = make_shard(GetParam(), 0, -1, 0, 1, nullptr);
    const int32_t prefix = 3;
    b = single_batch(&inc->slot, &prefix, kPrompt.data(), nullptr, nullptr, got.data());
    ASSERT_EQ(exg_model_prefill(inc->model, inc->cache, &b), EXG_OK);
    for (int32_t t = prefix; t < n; ++t) {
        b = single_batch(&inc->slot, nullptr, kPrompt.data() + t, nullptr, nullptr, got.data());
        ASSERT_EQ(exg_model_decode(inc->model, inc->cache, &b), EXG_OK);
    }
    expect_close(got, want, 1e-5f);
}

TEST_P(Presets, TensorAndPipelineParallelMatchSingleShard) {
    const int32_t vocab = 128, hidden = 64, n = static_cast<int32_t>(kPrompt.size());
    auto full = make_shard(GetParam(), 0, -1, 0, 1, nullptr);
    std::vector<float> want(vocab);
    auto b = single_batch(&full->slot, &n, kPrompt.data(), nullptr, nullptr, want.data());
    ASSERT_EQ(exg_model_prefill(full->model, full->cache, &b), EXG_OK);

    // Two pipeline stages.
    auto s0 = make_shard(GetParam(), 0, 1, 0, 1, nullptr);
    auto s1 = make_shard(GetParam(), 1, 2, 0, 1, nullptr);
    std::vector<float> hidden_states(static_cast<size_t>(n * hidden)), got(vocab);
    b = single_batch(&s0->slot, &n, kPrompt.data(), nullptr, hidden_states.data(), nullptr);
    ASSERT_EQ(exg_model_prefill(s0->model, s0->cache, &b), EXG_OK) << exg_last_error_message();
    b = single_batch(&s1->slot, &n, nullptr, hidden_states.data(), nullptr, got.data());
    ASSERT_EQ(exg_model_prefill(s1->model, s1->cache, &b), EXG_OK) << exg_last_error_message();
    expect_close(got, want, 1e-5f);

    // Two tensor-parallel ranks on two threads.
    exg_comm* comms[2] = {nullptr, nullptr};
    ASSERT_EQ(exg_comm_create_host_group(2, 10000, comms), EXG_OK);
    auto r0 = make_shard(GetParam(), 0, -1, 0, 2, comms[0]);
    auto r1 = make_shard(GetParam(), 0, -1, 1, 2, comms[1]);
    std::vector<float> got0(vocab), got1(vocab);
    exg_status st1 = EXG_OK;
    std::thread peer([&] {
        auto b1 = single_batch(&r1->slot, &n, kPrompt.data(), nullptr, nullptr, got1.data());
        st1 = exg_model_prefill(r1->model, r1->cache, &b1);
    });
    b = single_batch(&r0->slot, &n, kPrompt.data(), nullptr, nullptr, got0.data());
    EXPECT_EQ(exg_model_prefill(r0->model, r0->cache, &b), EXG_OK) << exg_last_error_message();
    peer.join();
    EXPECT_EQ(st1, EXG_OK);
    expect_close(got0, want, 1e-5f);
    expect_close(got1, want, 1e-5f);
    exg_comm_free(comms[0]);
    exg_comm_free(comms[1]);
}

INSTANTIATE_TEST_SUITE_P(Tiny, Presets, ::testing::Values("tiny", "tiny-gelu", "tiny-postln", "tiny-proj"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                             std::string name = param.param;
                             for (auto& ch : name) if (ch == '-') ch = '_';
                             return name;
                         });

}  // namespace
