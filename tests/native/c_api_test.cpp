// The C boundary: bad arguments become statuses and messages, never crashes; the library keeps working.
#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(CApi, NullAndBadArgumentsReturnStatuses) {
    exg_model_config c{};
    EXPECT_EQ(exg_config_preset(nullptr, &c), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(exg_last_error_message()).find("name is null"), std::string::npos);
    EXPECT_EQ(exg_config_preset("no-such-model", &c), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(exg_last_error_message()).find("opt-125m"), std::string::npos);  // lists the known names
    EXPECT_EQ(exg_config_preset("tiny", &c), EXG_OK);
    EXPECT_STREQ(exg_last_error_message(), "");

    exg_backend_params bp{};
    exg_backend* backend = nullptr;
    EXPECT_EQ(exg_backend_create(&bp, &backend), EXG_ERR_INVALID_ARGUMENT);  // struct_size 0
    bp.struct_size = sizeof bp;
    bp.kind = 7;
    EXPECT_EQ(exg_backend_create(&bp, &backend), EXG_ERR_INVALID_ARGUMENT);
    bp.kind = EXG_BACKEND_CUDA;
    if (!exg_backend_available(EXG_BACKEND_CUDA)) {
        EXPECT_EQ(exg_backend_create(&bp, &backend), EXG_ERR_UNSUPPORTED);
        EXPECT_NE(std::string(exg_last_error_message()).find("CUDA"), std::string::npos);
    }
    EXPECT_STREQ(exg_status_name(EXG_ERR_CAPACITY), "EXG_ERR_CAPACITY");
}

TEST(CApi, GenerateWithTinyModelAfterErrors) {
    exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, 1};
    exg_backend* backend = nullptr;
    ASSERT_EQ(exg_backend_create(&bp, &backend), EXG_OK);
    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    ASSERT_EQ(exg_config_preset("tiny", &mp.config), EXG_OK);
    mp.seed = 1;
    mp.layer_end = mp.config.num_layers;
    mp.tp_size = 1;
    exg_model* model = nullptr;
    ASSERT_EQ(exg_model_create(backend, &mp, &model), EXG_OK) << exg_last_error_message();
    exg_backend_free(backend);  // the model keeps its backend alive
    exg_kv_cache_params kp{sizeof(exg_kv_cache_params), 2, 16};
    exg_kv_cache* cache = nullptr;
    ASSERT_EQ(exg_kv_cache_create(model, &kp, &cache), EXG_OK);
    int32_t slot = -1;
    ASSERT_EQ(exg_kv_cache_alloc_slot(cache, &slot), EXG_OK);
    exg_model_free(model);  // the cache keeps its model alive

    std::vector<float> logits(static_cast<size_t>(mp.config.vocab_size));
    const int32_t tokens[20] = {2, 5, 9};
    int32_t len = 20;  // longer than the slot's 16 tokens
    exg_batch b{};
    b.struct_size = sizeof b;
    b.num_seqs = 1;
    b.slots = &slot;
    b.seq_lens = &len;
    b.token_ids = tokens;
    b.logits_out = logits.data();
    // The model handle is gone; steps go through a fresh model below. Check the cache's capacity error first
    // through a second model sharing nothing with the freed one.
    exg_backend* backend2 = nullptr;
    ASSERT_EQ(exg_backend_create(&bp, &backend2), EXG_OK);
    exg_model* model2 = nullptr;
    ASSERT_EQ(exg_model_create(backend2, &mp, &model2), EXG_OK);
    exg_kv_cache* cache2 = nullptr;
    ASSERT_EQ(exg_kv_cache_create(model2, &kp, &cache2), EXG_OK);
    int32_t slot2 = -1;
    ASSERT_EQ(exg_kv_cache_alloc_slot(cache2, &slot2), EXG_OK);
    b.slots = &slot2;
    EXPECT_EQ(exg_model_prefill(model2, cache, &b), EXG_ERR_INVALID_ARGUMENT);  // cache of another model
    EXPECT_EQ(exg_model_prefill(model2, cache2, &b), EXG_ERR_CAPACITY);
    EXPECT_NE(std::string(exg_last_error_message()).find("16"), std::string::npos);
    len = 3;
    ASSERT_EQ(exg_model_prefill(model2, cache2, &b), EXG_OK) << exg_last_error_message();
    int32_t seq = 0;
    ASSERT_EQ(exg_kv_cache_seq_len(cache2, slot2, &seq), EXG_OK);
    EXPECT_EQ(seq, 3);
    exg_kv_cache_free(cache);
    exg_kv_cache_free(cache2);
    exg_model_free(model2);
    exg_backend_free(backend2);
}

}  // namespace
