// Size presets: the OPT family (Hugging Face configs), the ExeGPT paper's GPT-3 shapes (Table 1,
// FFN = 4 x hidden, GELU, GPT-2 vocabulary) and tiny shapes for tests.
#include "core/error.h"
#include "core/model_config.h"

#include <sstream>

namespace exg {
namespace {

ModelConfig make(int32_t vocab, int32_t hidden, int32_t layers, int32_t heads, int32_t ffn, int32_t max_pos,
                 int32_t pos_offset, int act, bool pre_ln, int32_t wproj = 0) {
    ModelConfig c{};
    c.struct_size = sizeof(ModelConfig);
    c.vocab_size = vocab;
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.num_heads = heads;
    c.ffn_dim = ffn;
    c.max_positions = max_pos;
    c.position_offset = pos_offset;
    c.word_embed_proj_dim = wproj > 0 ? wproj : hidden;
    c.activation = act;
    c.layer_norm_eps = 1e-5f;
    c.pre_layer_norm = pre_ln;
    c.final_layer_norm = pre_ln;
    c.layer_norm_affine = 1;
    c.enable_bias = 1;
    c.tied_lm_head = 1;
    return c;
}

ModelConfig opt(int32_t hidden, int32_t layers, int32_t heads, bool pre_ln = true, int32_t wproj = 0) {
    return make(50272, hidden, layers, heads, 4 * hidden, 2048, 2, EXG_ACT_RELU, pre_ln, wproj);
}

ModelConfig gpt3(int32_t hidden, int32_t layers, int32_t heads) {
    return make(50257, hidden, layers, heads, 4 * hidden, 2048, 0, EXG_ACT_GELU, true);
}

}  // namespace

const std::vector<Preset>& presets() {
    static const std::vector<Preset> table = {
        {"opt-125m", opt(768, 12, 12)},
        {"opt-350m", opt(1024, 24, 16, /*pre_ln=*/false, /*wproj=*/512)},
        {"opt-1.3b", opt(2048, 24, 32)},
        {"opt-2.7b", opt(2560, 32, 32)},
        {"opt-6.7b", opt(4096, 32, 32)},
        {"opt-13b", opt(5120, 40, 40)},
        {"opt-30b", opt(7168, 48, 56)},
        {"opt-66b", opt(9216, 64, 72)},
        {"gpt3-39b", gpt3(8192, 48, 64)},
        {"gpt3-101b", gpt3(10240, 80, 80)},
        {"gpt3-175b", gpt3(12288, 96, 96)},
        {"gpt3-341b", gpt3(15360, 120, 120)},
        {"tiny", make(128, 64, 2, 4, 128, 128, 2, EXG_ACT_RELU, true)},
        {"tiny-gelu", make(128, 64, 2, 4, 128, 128, 2, EXG_ACT_GELU, true)},
        {"tiny-postln", make(128, 64, 2, 4, 128, 128, 2, EXG_ACT_RELU, false)},
        {"tiny-proj", make(128, 64, 2, 4, 128, 128, 2, EXG_ACT_RELU, true, 32)},
    };
    return table;
}

ModelConfig preset_config(const std::string& name) {
    for (const auto& p : presets())
        if (name == p.name) return p.config;
    std::ostringstream known;
    for (const auto& p : presets()) known << (known.tellp() > 0 ? ", " : "") << p.name;
    fail(EXG_ERR_INVALID_ARGUMENT, "unknown model preset \"", name, "\" (known: ", known.str(), ")");
}

}  // namespace exg
