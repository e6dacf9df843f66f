// Model configuration: validation, Hugging Face config.json reading/writing, presets.
#pragma once

#include <exegpt/exegpt.h>

#include <string>
#include <vector>

namespace exg {

using ModelConfig = exg_model_config;

// Throws exg::Error (EXG_ERR_INVALID_ARGUMENT) naming the first inconsistent field.
void validate_config(const ModelConfig& c);

inline int head_dim(const ModelConfig& c) { return c.hidden_size / c.num_heads; }

// <dir>/config.json of a Hugging Face OPT checkpoint (EXG_ERR_IO / EXG_ERR_FORMAT).
ModelConfig read_hf_config(const std::string& checkpoint_dir);
// The config.json text for a config (inverse of read_hf_config).
std::string hf_config_json(const ModelConfig& c, exg_dtype dtype);

struct Preset {
    const char* name;
    ModelConfig config;
};
const std::vector<Preset>& presets();
ModelConfig preset_config(const std::string& name);  // EXG_ERR_INVALID_ARGUMENT listing known names

}  // namespace exg
