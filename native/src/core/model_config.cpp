#include "core/model_config.h"

#include "core/error.h"
#include "core/dtype.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>

namespace exg {
namespace {

const char* activation_hf_name(int a) {
    switch (a) {
        case EXG_ACT_RELU: return "relu";
        case EXG_ACT_GELU: return "gelu";
        case EXG_ACT_GELU_TANH: return "gelu_new";
        case EXG_ACT_SILU: return "silu";
    }
    return "?";
}

int activation_from_hf(const std::string& name) {
    if (name == "relu") return EXG_ACT_RELU;
    if (name == "gelu") return EXG_ACT_GELU;
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return EXG_ACT_GELU_TANH;
    if (name == "silu" || name == "swish") return EXG_ACT_SILU;
    fail(EXG_ERR_UNSUPPORTED, "config.json: activation_function \"", name,
         "\" is not supported (relu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu)");
}

// A required positive integer field.
int32_t required_int(const nlohmann::json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end()) fail(EXG_ERR_FORMAT, "config.json: missing required field \"", field, "\"");
    if (!it->is_number_integer()) fail(EXG_ERR_FORMAT, "config.json: field \"", field, "\" must be an integer");
    const auto v = it->get<int64_t>();
    if (v <= 0 || v > INT32_MAX) fail(EXG_ERR_FORMAT, "config.json: field \"", field, "\" must be positive, got ", v);
    return static_cast<int32_t>(v);
}

bool optional_bool(const nlohmann::json& j, const char* field, bool fallback) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(EXG_ERR_FORMAT, "config.json: field \"", field, "\" must be true or false");
    return it->get<bool>();
}

}  // namespace

void validate_config(const ModelConfig& c) {
    auto positive = [](int32_t v, const char* field) {
        require(v > 0, EXG_ERR_INVALID_ARGUMENT, "model config: ", field, " must be positive, got ", v);
    };
    require(c.struct_size == sizeof(ModelConfig), EXG_ERR_INVALID_ARGUMENT, "model config: struct_size is ",
            c.struct_size, ", expected ", sizeof(ModelConfig), " (caller built against another exegpt.h)");
    positive(c.vocab_size, "vocab_size");
    positive(c.hidden_size, "hidden_size");
    positive(c.num_layers, "num_layers");
    positive(c.num_heads, "num_heads");
    positive(c.ffn_dim, "ffn_dim");
    positive(c.max_positions, "max_positions");
    positive(c.word_embed_proj_dim, "word_embed_proj_dim");
    require(c.position_offset >= 0 && c.position_offset <= INT32_MAX - c.max_positions, EXG_ERR_INVALID_ARGUMENT,
            "model config: position_offset (", c.position_offset, ") + max_positions (", c.max_positions,
            ") must be a non-negative 32-bit size");
    require(c.hidden_size % c.num_heads == 0, EXG_ERR_INVALID_ARGUMENT, "model config: num_heads (", c.num_heads,
            ") must divide hidden_size (", c.hidden_size, ")");
    require(c.activation >= EXG_ACT_RELU && c.activation <= EXG_ACT_SILU, EXG_ERR_INVALID_ARGUMENT,
            "model config: unknown activation ", c.activation);
    require(c.layer_norm_eps > 0.0f, EXG_ERR_INVALID_ARGUMENT, "model config: layer_norm_eps must be positive");
    require(!(c.final_layer_norm && !c.pre_layer_norm), EXG_ERR_INVALID_ARGUMENT,
            "model config: final_layer_norm requires pre_layer_norm (as in OPT)");
}

ModelConfig read_hf_config(const std::string& dir) {
    const std::string path = dir + "/config.json";
    std::ifstream in(path);
    if (!in) fail(EXG_ERR_IO, "cannot open ", path, " (is \"", dir, "\" a Hugging Face checkpoint directory?)");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        fail(EXG_ERR_FORMAT, path, ": not valid JSON (", e.what(), ")");
    }
    if (!j.is_object()) fail(EXG_ERR_FORMAT, path, ": expected a JSON object");
    if (auto mt = j.find("model_type"); mt != j.end() && mt->is_string() && mt->get<std::string>() != "opt")
        fail(EXG_ERR_UNSUPPORTED, path, ": model_type \"", mt->get<std::string>(), "\" is not supported (opt)");

    ModelConfig c{};
    c.struct_size = sizeof(ModelConfig);
    c.vocab_size = required_int(j, "vocab_size");
    c.hidden_size = required_int(j, "hidden_size");
    c.num_layers = required_int(j, "num_hidden_layers");
    c.num_heads = required_int(j, "num_attention_heads");
    c.ffn_dim = required_int(j, "ffn_dim");
    c.max_positions = required_int(j, "max_position_embeddings");
    c.position_offset = 2;  // OPTLearnedPositionalEmbedding's fixed offset
    c.word_embed_proj_dim = j.contains("word_embed_proj_dim") && !j["word_embed_proj_dim"].is_null()
                                ? required_int(j, "word_embed_proj_dim")
                                : c.hidden_size;
    auto act = j.find("activation_function");
    c.activation = act == j.end() ? EXG_ACT_RELU
                                  : activation_from_hf(act->is_string() ? act->get<std::string>() : act->dump());
    c.layer_norm_eps = 1e-5f;
    c.pre_layer_norm = optional_bool(j, "do_layer_norm_before", true);
    c.final_layer_norm = c.pre_layer_norm && !optional_bool(j, "_remove_final_layer_norm", false);
    c.layer_norm_affine = optional_bool(j, "layer_norm_elementwise_affine", true);
    c.enable_bias = optional_bool(j, "enable_bias", true);
    c.tied_lm_head = optional_bool(j, "tie_word_embeddings", true);
    try {
        validate_config(c);
    } catch (const Error& e) {
        fail(EXG_ERR_FORMAT, path, ": ", e.what());
    }
    return c;
}

std::string hf_config_json(const ModelConfig& c, exg_dtype dtype) {
    nlohmann::ordered_json j;
    j["architectures"] = {"OPTForCausalLM"};
    j["model_type"] = "opt";
    j["vocab_size"] = c.vocab_size;
    j["hidden_size"] = c.hidden_size;
    j["num_hidden_layers"] = c.num_layers;
    j["num_attention_heads"] = c.num_heads;
    j["ffn_dim"] = c.ffn_dim;
    j["max_position_embeddings"] = c.max_positions;
    j["word_embed_proj_dim"] = c.word_embed_proj_dim;
    j["activation_function"] = activation_hf_name(c.activation);
    j["do_layer_norm_before"] = c.pre_layer_norm != 0;
    j["_remove_final_layer_norm"] = c.pre_layer_norm && !c.final_layer_norm;
    j["layer_norm_elementwise_affine"] = c.layer_norm_affine != 0;
    j["enable_bias"] = c.enable_bias != 0;
    j["tie_word_embeddings"] = c.tied_lm_head != 0;
    j["torch_dtype"] = dtype == EXG_DTYPE_F32 ? "float32" : dtype == EXG_DTYPE_F16 ? "float16" : "bfloat16";
    j["pad_token_id"] = 1;
    j["bos_token_id"] = 2;
    j["eos_token_id"] = 2;
    j["dropout"] = 0.0;
    j["attention_dropout"] = 0.0;
    j["init_std"] = 0.02;
    return j.dump(2) + "\n";
}

}  // namespace exg
