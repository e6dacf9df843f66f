// The C boundary: bad arguments become statuses and messages, never crashes; the library keeps working.
#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

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
    bp.dtype = -1;  // the default storage (0 would be f32, which the CUDA backend refuses as an invalid argument)
    if (!exg_backend_available(EXG_BACKEND_CUDA)) {
        EXPECT_EQ(exg_backend_create(&bp, &backend), EXG_ERR_UNSUPPORTED);
        EXPECT_NE(std::string(exg_last_error_message()).find("CUDA"), std::string::npos);
    }
    EXPECT_STREQ(exg_status_name(EXG_ERR_CAPACITY), "EXG_ERR_CAPACITY");
}

TEST(CApi, GenerateWithTinyModelAfterErrors) {
    exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, 1, -1};
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

namespace {

exg_backend* one_thread_backend() {
    exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, 1, -1};
    exg_backend* b = nullptr;
    EXPECT_EQ(exg_backend_create(&bp, &b), EXG_OK);
    return b;
}

TEST(CApi, ImpossibleResourceRequestsAreRefusedWithMessages) {
    exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, 1 << 20, -1};
    exg_backend* b = nullptr;
    EXPECT_EQ(exg_backend_create(&bp, &b), EXG_ERR_INVALID_ARGUMENT);  // libgomp would exit() on it
    EXPECT_NE(std::string(exg_last_error_message()).find("num_threads"), std::string::npos);

    b = one_thread_backend();
    exg_host_buffer* hb = nullptr;
    EXPECT_EQ(exg_host_buffer_alloc(b, UINT64_MAX, &hb), EXG_ERR_OUT_OF_MEMORY);  // no wrap-around to a tiny block

    // 1.4 TB of FP32 weights: refused before anything is allocated, naming what did not fit.
    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    ASSERT_EQ(exg_config_preset("gpt3-341b", &mp.config), EXG_OK);
    mp.layer_end = mp.config.num_layers;
    mp.tp_size = 1;
    exg_model* m = nullptr;
    EXPECT_EQ(exg_model_create(b, &mp, &m), EXG_ERR_OUT_OF_MEMORY);
    EXPECT_NE(std::string(exg_last_error_message()).find("weights"), std::string::npos) << exg_last_error_message();

    // A GPT-3 shape (positions without OPT's offset of 2) is no OPT checkpoint.
    ASSERT_EQ(exg_config_preset("gpt3-39b", &mp.config), EXG_OK);
    mp.config.num_layers = 1;
    mp.config.hidden_size = 64;
    mp.config.num_heads = 4;
    mp.config.ffn_dim = 128;
    mp.config.vocab_size = 50;
    mp.config.max_positions = 16;
    mp.config.word_embed_proj_dim = 64;
    mp.layer_end = 1;
    ASSERT_EQ(exg_model_create(b, &mp, &m), EXG_OK) << exg_last_error_message();
    EXPECT_EQ(exg_model_save_checkpoint(m, "/tmp/exg-never-written", EXG_DTYPE_F32), EXG_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(exg_last_error_message()).find("position_offset"), std::string::npos);
    exg_model_free(m);

    mp.config.position_offset = INT32_MAX;  // overflows with max_positions
    EXPECT_EQ(exg_model_create(b, &mp, &m), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(exg_last_error_message()).find("position_offset"), std::string::npos);
    exg_backend_free(b);
}

TEST(CApi, KvBlobOnlyImportsIntoTheSameShard) {
    exg_backend* b = one_thread_backend();
    exg_comm* comms[2] = {nullptr, nullptr};
    ASSERT_EQ(exg_comm_create_host_group(2, 1000, comms), EXG_OK);
    exg_model* ranks[2] = {nullptr, nullptr};
    exg_kv_cache* caches[2] = {nullptr, nullptr};
    int32_t slots[2] = {-1, -1};
    for (int r = 0; r < 2; ++r) {
        exg_model_params mp{};
        mp.struct_size = sizeof mp;
        ASSERT_EQ(exg_config_preset("tiny", &mp.config), EXG_OK);
        mp.layer_end = mp.config.num_layers;
        mp.tp_rank = r;
        mp.tp_size = 2;
        mp.comm = comms[r];
        ASSERT_EQ(exg_model_create(b, &mp, &ranks[r]), EXG_OK) << exg_last_error_message();
        exg_kv_cache_params kp{sizeof(exg_kv_cache_params), 1, 8};
        ASSERT_EQ(exg_kv_cache_create(ranks[r], &kp, &caches[r]), EXG_OK);
        ASSERT_EQ(exg_kv_cache_alloc_slot(caches[r], &slots[r]), EXG_OK);
    }
    uint64_t size = 0, written = 0;
    ASSERT_EQ(exg_kv_cache_export_size(caches[0], slots[0], &size), EXG_OK);
    std::vector<uint8_t> blob(size);
    ASSERT_EQ(exg_kv_cache_export(caches[0], slots[0], blob.data(), blob.size(), &written), EXG_OK);
    // Same shape, other rank: the heads are different heads, so the bytes must be refused.
    EXPECT_EQ(exg_kv_cache_import(caches[1], slots[1], blob.data(), written), EXG_ERR_FORMAT);
    EXPECT_NE(std::string(exg_last_error_message()).find("heads [0, 2) are not inside"), std::string::npos)
        << exg_last_error_message();
    EXPECT_EQ(exg_kv_cache_import(caches[0], slots[0], blob.data(), written), EXG_OK);
    for (int r = 0; r < 2; ++r) {
        exg_kv_cache_free(caches[r]);
        exg_model_free(ranks[r]);
        exg_comm_free(comms[r]);
    }
    exg_backend_free(b);
}

}  // namespace
