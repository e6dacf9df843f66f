#include "model/transformer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"

namespace exg {

Transformer::Transformer(Backend* backend, const ShardSpec& spec, TensorSource& source, Communicator* comm,
                         std::shared_ptr<const KernelLibrary> kernels)
    : backend_(backend), spec_(spec), comm_(comm), kernels_(std::move(kernels)) {
    validate_shard(spec);
    require(spec.tp_size == 1 || comm != nullptr, EXG_ERR_INVALID_ARGUMENT,
            "model shard: tp_size ", spec.tp_size, " needs a communicator");
    if (comm != nullptr)
        require(comm->size() == spec.tp_size && comm->rank() == spec.tp_rank, EXG_ERR_INVALID_ARGUMENT,
                "model shard: communicator is rank ", comm->rank(), " of ", comm->size(), " but the shard is tp rank ",
                spec.tp_rank, " of ", spec.tp_size);
    require(comm == nullptr || comm->stream_ordered() || backend->dtype() == EXG_DTYPE_F32, EXG_ERR_INVALID_ARGUMENT,
            "model shard: a host communicator reduces f32 host memory; the ", backend->name(),
            " backend needs a device communicator (NCCL)");
    weights_ = load_weights(backend, spec, source);
}

KvShape Transformer::kv_shape() const {
    return {spec_.layer_end - spec_.layer_begin, spec_.local_heads(), head_dim(spec_.config), spec_.layer_begin,
            spec_.tp_rank, spec_.tp_size};
}

void Transformer::validate(const KvCache& cache, const exg_batch& b, bool decode) {
    const auto& c = spec_.config;
    require(b.struct_size == sizeof(exg_batch), EXG_ERR_INVALID_ARGUMENT, "batch: struct_size is ", b.struct_size,
            ", expected ", sizeof(exg_batch));
    const KvShape expected = kv_shape();
    require(cache.shape().layers == expected.layers && cache.shape().heads == expected.heads &&
                cache.shape().head_dim == expected.head_dim && cache.shape().layer_begin == expected.layer_begin &&
                cache.shape().tp_rank == expected.tp_rank,
            EXG_ERR_INVALID_ARGUMENT, "batch: the kv cache was created for another model shard");
    require(b.num_seqs > 0, EXG_ERR_INVALID_ARGUMENT, "batch: num_seqs must be positive, got ", b.num_seqs);
    require(b.num_seqs <= cache.max_slots(), EXG_ERR_INVALID_ARGUMENT, "batch: ", b.num_seqs,
            " sequences exceed the cache's ", cache.max_slots(), " slots");
    require(b.slots != nullptr, EXG_ERR_INVALID_ARGUMENT, "batch: slots is null");
    if (spec_.first_stage()) require(b.token_ids != nullptr, EXG_ERR_INVALID_ARGUMENT, "batch: token_ids is null (first stage)");
    else require(b.hidden_in != nullptr, EXG_ERR_INVALID_ARGUMENT, "batch: hidden_in is null (not the first stage)");
    if (!spec_.last_stage())
        require(b.hidden_out != nullptr, EXG_ERR_INVALID_ARGUMENT, "batch: hidden_out is null (not the last stage)");

    const auto n = static_cast<size_t>(b.num_seqs);
    slot_.assign(b.slots, b.slots + n);
    q_start_.resize(n);
    len_.resize(n);
    past_.resize(n);
    last_rows_.resize(n);
    seen_slot_.assign(static_cast<size_t>(cache.max_slots()), 0);
    int64_t tokens = 0;
    for (size_t s = 0; s < n; ++s) {
        const int32_t slot = b.slots[s];
        require(cache.allocated(slot), EXG_ERR_INVALID_ARGUMENT, "batch: sequence ", s, " uses slot ", slot,
                ", which is not an allocated slot of the kv cache");
        require(!seen_slot_[static_cast<size_t>(slot)], EXG_ERR_INVALID_ARGUMENT, "batch: slot ", slot,
                " appears twice");
        seen_slot_[static_cast<size_t>(slot)] = 1;
        const int32_t len = b.seq_lens ? b.seq_lens[s] : 1;
        require(len > 0, EXG_ERR_INVALID_ARGUMENT, "batch: sequence ", s, " has length ", len, " (must be positive)");
        require(!decode || len == 1, EXG_ERR_INVALID_ARGUMENT, "decode: sequence ", s, " has ", len,
                " tokens; a decode step takes exactly one per sequence");
        const int32_t past = cache.seq_len(slot);
        const int64_t total = static_cast<int64_t>(past) + len;
        require(total <= c.max_positions, EXG_ERR_CAPACITY, "sequence ", s, " would reach ", total,
                " tokens but the model has ", c.max_positions, " positions (max_position_embeddings)");
        require(total <= cache.max_seq_len(), EXG_ERR_CAPACITY, "sequence ", s, " would reach ", total,
                " tokens but its kv cache slot holds ", cache.max_seq_len());
        q_start_[s] = static_cast<int32_t>(tokens);
        len_[s] = len;
        past_[s] = past;
        tokens += len;
        last_rows_[s] = static_cast<int32_t>(tokens - 1);
    }
    if (spec_.first_stage()) {
        for (int64_t t = 0; t < tokens; ++t)
            require(b.token_ids[t] >= 0 && b.token_ids[t] < c.vocab_size, EXG_ERR_INVALID_ARGUMENT, "batch: token id ",
                    b.token_ids[t], " at row ", t, " is outside the vocabulary [0, ", c.vocab_size, ")");
    }
}

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
}  // namespace

void Transformer::forward(KvCache& cache, const exg_batch& b, bool decode) {
    const auto start = Clock::now();
    exg_step_timings timings{};
    timings.struct_size = sizeof(exg_step_timings);
    timings_ = timings;   // a failed step leaves zeros, not the previous step's figures
    logits_rows_ = 0;     // and no logits to sample from
    validate(cache, b, decode);
    decode_ = decode;
    const auto& c = spec_.config;
    const int64_t tokens = static_cast<int64_t>(q_start_.back()) + len_.back();
    const int64_t hidden = c.hidden_size;
    const size_t e = backend_->element_size();
    h_.ensure(backend_, static_cast<size_t>(tokens * hidden) * e);
    x_.ensure(backend_, static_cast<size_t>(tokens * hidden) * e);
    qkv_.ensure(backend_, static_cast<size_t>(tokens * 3 * spec_.local_hidden()) * e);
    attn_.ensure(backend_, static_cast<size_t>(tokens * spec_.local_hidden()) * e);
    proj_.ensure(backend_, static_cast<size_t>(tokens * hidden) * e);
    ffn_.ensure(backend_, static_cast<size_t>(tokens * spec_.local_ffn()) * e);

    if (spec_.first_stage()) embed(b, tokens);
    else backend_->upload_f32(h_.data(), b.hidden_in, tokens * hidden);

    if (timing_enabled_) backend_->synchronize();
    const auto layers_start = Clock::now();
    step_attention_ = step_reduce_ = 0;
    for (int32_t l = spec_.layer_begin; l < spec_.layer_end; ++l)
        block(weights_.layers[static_cast<size_t>(l - spec_.layer_begin)], l - spec_.layer_begin, cache, tokens);
    if (timing_enabled_) backend_->synchronize();
    const double layers_seconds = seconds_since(layers_start);

    if (spec_.last_stage()) head(b);
    else backend_->download_f32(b.hidden_out, h_.data(), tokens * hidden);
    backend_->synchronize();
    // Only a step that ran to completion extends the sequences; a failed step leaves them as they were.
    for (size_t s = 0; s < len_.size(); ++s) cache.advance(slot_[s], len_[s]);
    if (spec_.last_stage()) logits_rows_ = static_cast<int64_t>(len_.size());

    timings.layers = spec_.layer_end - spec_.layer_begin;
    timings.tokens = tokens;
    timings.total_seconds = seconds_since(start);
    if (timing_enabled_) {
        timings.attention_seconds = step_attention_;
        timings.all_reduce_seconds = step_reduce_;
        timings.layer_rest_seconds = std::max(0.0, layers_seconds - step_attention_ - step_reduce_);
        timings.outside_layers_seconds = std::max(0.0, timings.total_seconds - layers_seconds);
    }
    timings_ = timings;
}

void Transformer::embed(const exg_batch& b, int64_t tokens) {
    const auto& c = spec_.config;
    const int64_t hidden = c.hidden_size, wproj = c.word_embed_proj_dim;
    positions_.resize(static_cast<size_t>(tokens));
    for (size_t s = 0; s < len_.size(); ++s)
        for (int32_t i = 0; i < len_[s]; ++i) positions_[static_cast<size_t>(q_start_[s] + i)] = past_[s] + i;
    if (weights_.project_in.data() != nullptr) {
        // Tokens are wproj wide and positions hidden wide: project first, then add the positions.
        emb_.ensure(backend_, static_cast<size_t>(tokens * wproj) * backend_->element_size());
        backend_->embedding({tokens, wproj, b.token_ids, 0, weights_.embed_tokens.data(), nullptr, 0, nullptr, emb_.data(), 0});
        backend_->gemm({tokens, hidden, wproj, emb_.data(), wproj, weights_.project_in.data(), wproj, nullptr, h_.data(), hidden, -1, 0});
        backend_->embedding({tokens, hidden, positions_.data(), c.position_offset, weights_.embed_positions.data(), nullptr, 0,
                             nullptr, h_.data(), 1});
    } else {
        backend_->embedding({tokens, hidden, b.token_ids, 0, weights_.embed_tokens.data(), positions_.data(), c.position_offset,
                             weights_.embed_positions.data(), h_.data(), 0});
    }
}

void Transformer::reduce(void* data, int64_t count) {
    if (spec_.tp_size > 1) {
        // A host group reads the data now; NCCL is ordered on the backend's stream and needs no wait.
        if (!comm_->stream_ordered() || timing_enabled_) backend_->synchronize();
        const auto start = Clock::now();
        comm_->all_reduce_sum(data, static_cast<size_t>(count), backend_->dtype());
        if (timing_enabled_) {
            backend_->synchronize();
            step_reduce_ += seconds_since(start);
        }
    }
}

void Transformer::block(const LayerWeights& w, int32_t layer, KvCache& cache, int64_t tokens) {
    const auto& c = spec_.config;
    const int64_t hidden = c.hidden_size, lh = spec_.local_hidden();
    const bool pre_ln = c.pre_layer_norm != 0;
    const bool rank0 = spec_.tp_rank == 0;  // row-parallel biases are added once, before the all-reduce
    const float eps = c.layer_norm_eps;

    // Self-attention. Pre-LN: x = LN(h) feeds the block, h += block(x). Post-LN: h = LN(h + block(h)),
    // one fused residual-add + norm.
    const void* in = h_.data();
    if (pre_ln) {
        backend_->layer_norm({tokens, hidden, h_.data(), nullptr, w.attn_ln_g.data(), w.attn_ln_b.data(), x_.data(), eps, 0});
        in = x_.data();
    }
    backend_->gemm({tokens, 3 * lh, hidden, in, hidden, w.qkv_w.data(), hidden, w.qkv_b.data(), qkv_.data(), 3 * lh, -1, 0});
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim(c)));
    if (timing_enabled_) backend_->synchronize();
    const auto attention_start = Clock::now();
    attention({static_cast<int32_t>(len_.size()), slot_.data(), q_start_.data(), len_.data(), past_.data(), qkv_.data(),
               3 * lh, attn_.data(), lh, cache.keys(layer), cache.values(layer), cache.slot_stride(), cache.head_stride(),
               spec_.local_heads(), head_dim(c), scale, decode_ ? 1 : 0, /*causal=*/1},
              layer, cache);
    if (timing_enabled_) {
        backend_->synchronize();
        step_attention_ += seconds_since(attention_start);
    }
    backend_->gemm({tokens, hidden, lh, attn_.data(), lh, w.out_w.data(), lh, rank0 ? w.out_b.data() : nullptr, proj_.data(),
                    hidden, -1, 0});
    reduce(proj_.data(), tokens * hidden);
    residual_norm(pre_ln ? w.ffn_ln_g : w.attn_ln_g, pre_ln ? w.ffn_ln_b : w.attn_ln_b, tokens, pre_ln);

    // Feed-forward (pre-LN: the norm of its input was fused into the residual add above).
    ffn(w, layer, pre_ln ? x_.data() : h_.data(), tokens);
    reduce(proj_.data(), tokens * hidden);
    if (pre_ln) backend_->add(h_.data(), proj_.data(), tokens * hidden);
    else residual_norm(w.ffn_ln_g, w.ffn_ln_b, tokens, false);
}

// h += proj_, then the norm into x_: pre-LN, x_ is the next sub-block's input and h keeps the residual
// stream; post-LN, the normalised sum is the new stream, so the buffers trade places (the fused op's
// output never aliases its input).
void Transformer::residual_norm(const Buffer& gamma, const Buffer& beta, int64_t tokens, bool into_x) {
    const auto& c = spec_.config;
    backend_->layer_norm({tokens, c.hidden_size, h_.data(), proj_.data(), gamma.data(), beta.data(), x_.data(),
                          c.layer_norm_eps, 0});
    if (!into_x) std::swap(h_, x_);
}

// The dispatch points of the kernel plug-in: its op when it has one, the backend's otherwise.
void Transformer::attention(const AttentionParams& p, int32_t layer, const KvCache& cache) {
    if (kernels_ != nullptr && kernels_->has_attention())
        kernels_->attention(p, spec_.layer_begin + layer, cache.max_seq_len(), decode_);
    else
        backend_->attention(p);
}

// proj_ = fc2(act(fc1(in))), through ffn_ ([tokens x local ffn]); fc2's bias only on rank 0 (row-parallel).
void Transformer::ffn(const LayerWeights& w, int32_t layer, const void* in, int64_t tokens) {
    const auto& c = spec_.config;
    const int64_t hidden = c.hidden_size, lf = spec_.local_ffn();
    const void* fc2_bias = spec_.tp_rank == 0 ? w.fc2_b.data() : nullptr;
    if (kernels_ != nullptr && kernels_->has_ffn()) {  // plug-ins run on the F32 CPU backend only
        exg_ffn_params p{};
        p.activation = c.activation;
        p.tokens = tokens;
        p.hidden_size = hidden;
        p.ffn_dim = lf;
        p.x = static_cast<const float*>(in);
        p.x_stride = hidden;
        p.fc1_weight = w.fc1_w.f32();
        p.fc1_bias = w.fc1_b.f32();
        p.fc2_weight = w.fc2_w.f32();
        p.fc2_bias = static_cast<const float*>(fc2_bias);
        p.workspace = ffn_.f32();
        p.out = proj_.f32();
        p.out_stride = hidden;
        p.layer = spec_.layer_begin + layer;
        kernels_->ffn(p);
        return;
    }
    backend_->gemm({tokens, lf, hidden, in, hidden, w.fc1_w.data(), hidden, w.fc1_b.data(), ffn_.data(), lf, c.activation, 0});
    backend_->gemm({tokens, hidden, lf, ffn_.data(), lf, w.fc2_w.data(), lf, fc2_bias, proj_.data(), hidden, -1, 0});
}

// Logits of each sequence's last row, in F32 in logits_ (kept for sample()); downloaded when asked for.
void Transformer::head(const exg_batch& b) {
    const auto& c = spec_.config;
    const int64_t seqs = static_cast<int64_t>(len_.size());
    const int64_t hidden = c.hidden_size, wproj = c.word_embed_proj_dim, vocab = c.vocab_size;
    const size_t e = backend_->element_size();
    last_.ensure(backend_, static_cast<size_t>(seqs * hidden) * e);
    logits_.ensure(backend_, static_cast<size_t>(seqs * vocab) * sizeof(float));
    backend_->gather_rows(last_.data(), h_.data(), last_rows_.data(), seqs, hidden);
    if (c.final_layer_norm)
        backend_->layer_norm({seqs, hidden, last_.data(), nullptr, weights_.final_ln_g.data(), weights_.final_ln_b.data(),
                              last_.data(), c.layer_norm_eps, 0});
    const void* features = last_.data();
    if (weights_.project_out.data() != nullptr) {
        last_proj_.ensure(backend_, static_cast<size_t>(seqs * wproj) * e);
        backend_->gemm({seqs, wproj, hidden, last_.data(), hidden, weights_.project_out.data(), hidden, nullptr,
                        last_proj_.data(), wproj, -1, 0});
        features = last_proj_.data();
    }
    backend_->gemm({seqs, vocab, wproj, features, wproj, weights_.head(), wproj, nullptr, logits_.data(), vocab, -1, 1});
    if (b.logits_out != nullptr)
        backend_->download(b.logits_out, logits_.data(), static_cast<size_t>(seqs * vocab) * sizeof(float));
}

void Transformer::sample(const exg_sampling_params& params, uint64_t* rng_states, int32_t* tokens) {
    require(spec_.last_stage(), EXG_ERR_INVALID_ARGUMENT, "sample: this shard (layers ", spec_.layer_begin, "..",
            spec_.layer_end, ") is not the last stage and has no logits");
    require(logits_rows_ > 0, EXG_ERR_INVALID_ARGUMENT, "sample: no logits to sample from (no step has completed since the "
            "model was created or the last step failed)");
    uint64_t* states = rng_states;
    if (states == nullptr) {  // greedy needs no stream; the backend still gets somewhere to write
        greedy_states_.assign(static_cast<size_t>(logits_rows_), 0);
        states = greedy_states_.data();
    }
    backend_->sample({logits_rows_, spec_.config.vocab_size, logits_.f32(), spec_.config.vocab_size, params, states, tokens});
}

}  // namespace exg
