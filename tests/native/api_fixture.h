// C-ABI fixtures shared by the native tests that drive whole models: one CPU backend for the test process,
// a model that frees its KV cache before itself, and a one-sequence batch.
#pragma once

#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <cstdint>

namespace exg_test {

// Created once and never freed: models of every test share it, as models of one process share a backend.
inline exg_backend* shared_cpu_backend() {
    static exg_backend* backend = [] {
        exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, 1, -1};
        exg_backend* b = nullptr;
        EXPECT_EQ(exg_backend_create(&bp, &b), EXG_OK);
        return b;
    }();
    return backend;
}

// A model and its KV cache; the tests add the slots they use.
struct ApiModel {
    exg_model* model = nullptr;
    exg_kv_cache* cache = nullptr;

    ApiModel() = default;
    ApiModel(const ApiModel&) = delete;
    ApiModel& operator=(const ApiModel&) = delete;
    ~ApiModel() {
        exg_kv_cache_free(cache);
        exg_model_free(model);
    }
};

// One sequence in `slot`; any of the inputs and outputs may be null, as exg_batch allows.
inline exg_batch single_batch(const int32_t* slot, const int32_t* len, const int32_t* ids, const float* hidden_in,
                              float* hidden_out, float* logits) {
    exg_batch b{};
    b.struct_size = sizeof b;
    b.num_seqs = 1;
    b.slots = slot;
    b.seq_lens = len;
    b.token_ids = ids;
    b.hidden_in = hidden_in;
    b.hidden_out = hidden_out;
    b.logits_out = logits;
    return b;
}

}  // namespace exg_test
