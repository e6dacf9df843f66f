#include "model/weights.h"

#include "core/error.h"
#include "io/safetensors.h"

#include <filesystem>
#include <fstream>

namespace exg {
namespace {

std::string layer_name(int32_t layer, const char* suffix) {
    return "decoder.layers." + std::to_string(layer) + "." + suffix;
}

// Loads windows of HF tensors into new device buffers (staged through host memory). A planning
// loader allocates and reads nothing: it checks every tensor's presence, shape and dtype and adds
// up the bytes, so a bad checkpoint or a model too large for the backend fails before any work.
class Loader {
public:
    Loader(Backend* backend, TensorSource& source, bool plan_only)
        : backend_(backend), source_(source), plan_only_(plan_only) {}

    size_t planned_bytes() const { return planned_; }

    Buffer alloc(int64_t elements) {
        const size_t bytes = static_cast<size_t>(elements) * backend_->element_size();
        planned_ += bytes;
        return plan_only_ ? Buffer() : Buffer(backend_, bytes);
    }

    // A whole tensor [rows x cols] (rows == 1 for vectors).
    Buffer full(const std::string& name, int64_t rows, int64_t cols) { return window(name, {rows, cols, 0, rows, 0, cols}); }

    Buffer window(const std::string& name, const TensorWindow& w) {
        Buffer out = alloc(w.row_count * w.col_count);
        read_into(name, w, out, 0);
        return out;
    }

    // Reads a window into dst starting at element `offset` (used to fuse Q, K and V), converting to the
    // backend's storage dtype on the way.
    void read_into(const std::string& name, const TensorWindow& w, const Buffer& dst, int64_t offset) {
        if (plan_only_) {
            source_.check(name, w);
            return;
        }
        staging_.resize(static_cast<size_t>(w.row_count * w.col_count));
        source_.read(name, w, staging_.data());
        backend_->upload_f32(dst.at(offset), staging_.data(), static_cast<int64_t>(staging_.size()));
    }

private:
    Backend* backend_;
    TensorSource& source_;
    const bool plan_only_;
    size_t planned_ = 0;
    std::vector<float> staging_;
};

}  // namespace

void validate_shard(const ShardSpec& s) {
    validate_config(s.config);
    const auto& c = s.config;
    require(s.layer_begin >= 0 && s.layer_begin < s.layer_end && s.layer_end <= c.num_layers, EXG_ERR_INVALID_ARGUMENT,
            "model shard: layer range [", s.layer_begin, ", ", s.layer_end, ") is not a non-empty range within [0, ",
            c.num_layers, ")");
    require(s.tp_size >= 1, EXG_ERR_INVALID_ARGUMENT, "model shard: tp_size must be >= 1, got ", s.tp_size);
    require(s.tp_rank >= 0 && s.tp_rank < s.tp_size, EXG_ERR_INVALID_ARGUMENT, "model shard: tp_rank ", s.tp_rank,
            " is outside [0, ", s.tp_size, ")");
    require(c.num_heads % s.tp_size == 0, EXG_ERR_INVALID_ARGUMENT, "model shard: tp_size ", s.tp_size,
            " does not divide num_heads (", c.num_heads, ")");
    require(c.ffn_dim % s.tp_size == 0, EXG_ERR_INVALID_ARGUMENT, "model shard: tp_size ", s.tp_size,
            " does not divide ffn_dim (", c.ffn_dim, ")");
}

size_t ShardWeights::bytes() const {
    size_t total = embed_tokens.bytes() + embed_positions.bytes() + project_in.bytes() + final_ln_g.bytes() +
                   final_ln_b.bytes() + project_out.bytes() + lm_head.bytes();
    for (const auto& l : layers)
        for (const Buffer* b : {&l.attn_ln_g, &l.attn_ln_b, &l.qkv_w, &l.qkv_b, &l.out_w, &l.out_b, &l.ffn_ln_g,
                                &l.ffn_ln_b, &l.fc1_w, &l.fc1_b, &l.fc2_w, &l.fc2_b})
            total += b->bytes();
    return total;
}

namespace {

ShardWeights load_with(Loader& load, const ShardSpec& spec) {
    const auto& c = spec.config;
    const int64_t hidden = c.hidden_size, wproj = c.word_embed_proj_dim, vocab = c.vocab_size;
    const int64_t lh = spec.local_hidden(), lf = spec.local_ffn();
    const int64_t r = spec.tp_rank;
    const bool projected = wproj != hidden;
    ShardWeights w;

    if (spec.first_stage() || (spec.last_stage() && c.tied_lm_head))
        w.embed_tokens = load.full("decoder.embed_tokens.weight", vocab, wproj);
    if (spec.first_stage()) {
        w.embed_positions = load.full("decoder.embed_positions.weight", c.max_positions + c.position_offset, hidden);
        if (projected) w.project_in = load.full("decoder.project_in.weight", hidden, wproj);
    }
    if (spec.last_stage()) {
        if (c.final_layer_norm && c.layer_norm_affine) {
            w.final_ln_g = load.full("decoder.final_layer_norm.weight", 1, hidden);
            w.final_ln_b = load.full("decoder.final_layer_norm.bias", 1, hidden);
        }
        if (projected) w.project_out = load.full("decoder.project_out.weight", wproj, hidden);
        if (!c.tied_lm_head) w.lm_head = load.full("lm_head.weight", vocab, wproj);
    }

    for (int32_t layer = spec.layer_begin; layer < spec.layer_end; ++layer) {
        LayerWeights lw;
        auto name = [&](const char* suffix) { return layer_name(layer, suffix); };
        if (c.layer_norm_affine) {
            lw.attn_ln_g = load.full(name("self_attn_layer_norm.weight"), 1, hidden);
            lw.attn_ln_b = load.full(name("self_attn_layer_norm.bias"), 1, hidden);
            lw.ffn_ln_g = load.full(name("final_layer_norm.weight"), 1, hidden);
            lw.ffn_ln_b = load.full(name("final_layer_norm.bias"), 1, hidden);
        }
        // Column-parallel: this rank's rows of q/k/v and fc1; row-parallel: its columns of out_proj and fc2.
        lw.qkv_w = load.alloc(3 * lh * hidden);
        const char* qkv[3] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
        for (int i = 0; i < 3; ++i)
            load.read_into(name(qkv[i]) + ".weight", {hidden, hidden, r * lh, lh, 0, hidden}, lw.qkv_w, i * lh * hidden);
        lw.out_w = load.window(name("self_attn.out_proj.weight"), {hidden, hidden, 0, hidden, r * lh, lh});
        lw.fc1_w = load.window(name("fc1.weight"), {c.ffn_dim, hidden, r * lf, lf, 0, hidden});
        lw.fc2_w = load.window(name("fc2.weight"), {hidden, c.ffn_dim, 0, hidden, r * lf, lf});
        if (c.enable_bias) {
            lw.qkv_b = load.alloc(3 * lh);
            for (int i = 0; i < 3; ++i)
                load.read_into(name(qkv[i]) + ".bias", {1, hidden, 0, 1, r * lh, lh}, lw.qkv_b, i * lh);
            lw.out_b = load.full(name("self_attn.out_proj.bias"), 1, hidden);
            lw.fc1_b = load.window(name("fc1.bias"), {1, c.ffn_dim, 0, 1, r * lf, lf});
            lw.fc2_b = load.full(name("fc2.bias"), 1, hidden);
        }
        w.layers.push_back(std::move(lw));
    }
    return w;
}

}  // namespace

ShardWeights load_weights(Backend* backend, const ShardSpec& spec, TensorSource& source) {
    Loader plan(backend, source, /*plan_only=*/true);
    load_with(plan, spec);
    ensure_memory(*backend, plan.planned_bytes(), "the model shard's weights");
    Loader load(backend, source, /*plan_only=*/false);
    return load_with(load, spec);
}

void save_checkpoint(Backend* backend, const ShardSpec& spec, const ShardWeights& w, const std::string& dir,
                     exg_dtype dtype) {
    const auto& c = spec.config;
    require(spec.first_stage() && spec.last_stage() && spec.tp_size == 1, EXG_ERR_UNSUPPORTED,
            "save checkpoint: only a model holding every layer with tp_size 1 can be saved (this shard holds layers [",
            spec.layer_begin, ", ", spec.layer_end, ") of tp rank ", spec.tp_rank, "/", spec.tp_size, ")");
    require(c.position_offset == 2, EXG_ERR_UNSUPPORTED, "save checkpoint: a Hugging Face OPT checkpoint has position_offset 2, ",
            "this model has ", c.position_offset, " (a GPT-3-shaped preset cannot be saved as OPT)");
    require(dtype >= EXG_DTYPE_F32 && dtype <= EXG_DTYPE_BF16, EXG_ERR_INVALID_ARGUMENT, "save checkpoint: unknown dtype ",
            static_cast<int>(dtype));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(EXG_ERR_IO, "save checkpoint: cannot create directory \"", dir, "\": ", ec.message());

    // Host copies of every tensor, under its HF name.
    std::vector<std::vector<float>> host;
    std::vector<TensorToWrite> tensors;
    host.reserve(16 + 16 * w.layers.size());
    auto add = [&](const std::string& name, std::vector<int64_t> shape, const Buffer& device, int64_t offset) {
        size_t count = 1;
        for (auto d : shape) count *= static_cast<size_t>(d);
        host.emplace_back(count);
        backend->download_f32(host.back().data(), device.at(offset), static_cast<int64_t>(count));
        tensors.push_back({hf_file_name(name), std::move(shape), host.back().data()});
    };
    const int64_t h = c.hidden_size, wp = c.word_embed_proj_dim;
    add("decoder.embed_tokens.weight", {c.vocab_size, wp}, w.embed_tokens, 0);
    add("decoder.embed_positions.weight", {c.max_positions + c.position_offset, h}, w.embed_positions, 0);
    if (w.project_in.data()) add("decoder.project_in.weight", {h, wp}, w.project_in, 0);
    if (w.project_out.data()) add("decoder.project_out.weight", {wp, h}, w.project_out, 0);
    if (w.final_ln_g.data()) {
        add("decoder.final_layer_norm.weight", {h}, w.final_ln_g, 0);
        add("decoder.final_layer_norm.bias", {h}, w.final_ln_b, 0);
    }
    for (int32_t i = 0; i < c.num_layers; ++i) {
        const auto& l = w.layers[static_cast<size_t>(i)];
        auto name = [&](const char* suffix) { return layer_name(i, suffix); };
        const char* qkv[3] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
        for (int j = 0; j < 3; ++j) {
            add(name(qkv[j]) + ".weight", {h, h}, l.qkv_w, j * h * h);
            if (l.qkv_b.data()) add(name(qkv[j]) + ".bias", {h}, l.qkv_b, j * h);
        }
        add(name("self_attn.out_proj.weight"), {h, h}, l.out_w, 0);
        add(name("fc1.weight"), {c.ffn_dim, h}, l.fc1_w, 0);
        add(name("fc2.weight"), {h, c.ffn_dim}, l.fc2_w, 0);
        if (l.out_b.data()) {
            add(name("self_attn.out_proj.bias"), {h}, l.out_b, 0);
            add(name("fc1.bias"), {c.ffn_dim}, l.fc1_b, 0);
            add(name("fc2.bias"), {h}, l.fc2_b, 0);
        }
        if (l.attn_ln_g.data()) {
            add(name("self_attn_layer_norm.weight"), {h}, l.attn_ln_g, 0);
            add(name("self_attn_layer_norm.bias"), {h}, l.attn_ln_b, 0);
            add(name("final_layer_norm.weight"), {h}, l.ffn_ln_g, 0);
            add(name("final_layer_norm.bias"), {h}, l.ffn_ln_b, 0);
        }
    }
    if (w.lm_head.data()) add("lm_head.weight", {c.vocab_size, wp}, w.lm_head, 0);
    write_safetensors(dir + "/model.safetensors", tensors, dtype);
    std::ofstream cfg(dir + "/config.json", std::ios::trunc);
    if (!cfg) fail(EXG_ERR_IO, "save checkpoint: cannot write ", dir, "/config.json");
    cfg << hf_config_json(c, dtype);
    if (!cfg) fail(EXG_ERR_IO, "save checkpoint: failed writing ", dir, "/config.json");
}

}  // namespace exg
