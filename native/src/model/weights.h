// The weights one shard holds, in the layouts the transformer consumes: Hugging Face [out, in]
// matrices, Q/K/V fused into one [3 x local_hidden, hidden] matrix per layer (one GEMM instead of
// three), column-parallel projections sliced by rows and row-parallel ones by columns.
#pragma once

#include "backend/backend.h"
#include "core/model_config.h"
#include "io/tensor_source.h"

#include <string>
#include <vector>

namespace exg {

struct ShardSpec {
    ModelConfig config;
    int32_t layer_begin, layer_end;
    int32_t tp_rank, tp_size;

    bool first_stage() const { return layer_begin == 0; }
    bool last_stage() const { return layer_end == config.num_layers; }
    int32_t local_heads() const { return config.num_heads / tp_size; }
    int32_t local_hidden() const { return local_heads() * head_dim(config); }
    int32_t local_ffn() const { return config.ffn_dim / tp_size; }
};

void validate_shard(const ShardSpec& spec);  // EXG_ERR_INVALID_ARGUMENT naming the bad field

struct LayerWeights {
    Buffer attn_ln_g, attn_ln_b;
    Buffer qkv_w, qkv_b;  // [3 * local_hidden, hidden], [3 * local_hidden]
    Buffer out_w, out_b;  // [hidden, local_hidden], [hidden] (added by rank 0 only)
    Buffer ffn_ln_g, ffn_ln_b;
    Buffer fc1_w, fc1_b;  // [local_ffn, hidden], [local_ffn]
    Buffer fc2_w, fc2_b;  // [hidden, local_ffn], [hidden] (added by rank 0 only)
};

struct ShardWeights {
    Buffer embed_tokens;  // [vocab, wproj]: first stage, and last stage when tied
    Buffer embed_positions;  // [max_positions + position_offset, hidden]: first stage
    Buffer project_in;    // [hidden, wproj] when wproj != hidden: first stage
    Buffer final_ln_g, final_ln_b;
    Buffer project_out;   // [wproj, hidden] when wproj != hidden: last stage
    Buffer lm_head;       // [vocab, wproj]: last stage when untied
    std::vector<LayerWeights> layers;

    const void* head() const { return lm_head.data() ? lm_head.data() : embed_tokens.data(); }
    size_t bytes() const;
};

ShardWeights load_weights(Backend* backend, const ShardSpec& spec, TensorSource& source);

// Writes the whole model (the shard must cover every layer, tp_size 1) as an HF OPT checkpoint.
void save_checkpoint(Backend* backend, const ShardSpec& spec, const ShardWeights& w, const std::string& dir, exg_dtype dtype);

}  // namespace exg
