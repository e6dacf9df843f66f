// One model shard executing prefill and decode steps over ragged batches (the OPT/GPT family:
// learned positions, LayerNorm before or after each block, ReLU/GELU FFN, tied or untied head).
#pragma once

#include "backend/backend.h"
#include "backend/kernel_library.h"
#include "comm/communicator.h"
#include "model/kv_cache.h"
#include "model/weights.h"

#include <exegpt/exegpt.h>

#include <memory>
#include <vector>

namespace exg {

class Transformer {
public:
    // comm may be null when tp_size == 1. kernels (may be null): a plug-in whose ops replace the backend's
    // attention and/or FFN in every layer.
    Transformer(Backend* backend, const ShardSpec& spec, TensorSource& source, Communicator* comm,
                std::shared_ptr<const KernelLibrary> kernels = nullptr);

    void forward(KvCache& cache, const exg_batch& batch, bool decode);
    // One token per sequence of the last completed step from its logits, on the backend (exg_model_sample).
    void sample(const exg_sampling_params& params, uint64_t* rng_states, int32_t* tokens);

    // Per-part timing of each step (synchronises the backend around attention; off by default).
    void set_step_timing(bool enabled) { timing_enabled_ = enabled; }
    const exg_step_timings& last_step_timings() const { return timings_; }

    const ShardSpec& spec() const { return spec_; }
    const ShardWeights& weights() const { return weights_; }
    Backend* backend() const { return backend_; }
    KvShape kv_shape() const;

private:
    void validate(const KvCache& cache, const exg_batch& batch, bool decode);
    void embed(const exg_batch& batch, int64_t tokens);
    void block(const LayerWeights& w, int32_t layer, KvCache& cache, int64_t tokens);
    void attention(const AttentionParams& p, int32_t layer, const KvCache& cache);
    void residual_norm(const Buffer& gamma, const Buffer& beta, int64_t tokens, bool into_x);
    void ffn(const LayerWeights& w, int32_t layer, const void* in, int64_t tokens);
    void head(const exg_batch& batch);
    void reduce(void* data, int64_t count);

    Backend* backend_;
    ShardSpec spec_;
    Communicator* comm_;
    std::shared_ptr<const KernelLibrary> kernels_;
    ShardWeights weights_;

    // Host-side batch metadata, rebuilt per call (reused capacity: no steady-state allocation).
    std::vector<int32_t> slot_, q_start_, len_, past_, positions_, last_rows_;
    std::vector<uint8_t> seen_slot_;
    // Device workspaces, grown on demand and kept.
    // Storage dtype except logits_ (F32, [rows x vocab] of the last step: logits_rows_ of them, 0 when none).
    Buffer h_, x_, qkv_, attn_, proj_, ffn_, emb_, last_, last_proj_, logits_;
    int64_t logits_rows_ = 0;
    std::vector<uint64_t> greedy_states_;

    bool decode_ = false;  // the current step's kind, for the kernel plug-in
    bool timing_enabled_ = false;
    exg_step_timings timings_{};
    double step_attention_ = 0, step_reduce_ = 0;  // accumulated over the layers of the current step
};

}  // namespace exg
