#include "api/guard.h"
#include "core/model_config.h"

using namespace exg;

extern "C" {

EXG_API exg_status exg_config_preset(const char* name, exg_model_config* out) {
    return guard([&] {
        require_arg(name, "exg_config_preset", "name");
        require_arg(out, "exg_config_preset", "out");
        *out = preset_config(name);
    });
}

EXG_API int32_t exg_config_preset_count(void) { return static_cast<int32_t>(presets().size()); }

EXG_API const char* exg_config_preset_name(int32_t index) {
    return index >= 0 && index < exg_config_preset_count() ? presets()[static_cast<size_t>(index)].name : nullptr;
}

EXG_API exg_status exg_config_from_checkpoint(const char* checkpoint_dir, exg_model_config* out) {
    return guard([&] {
        require_arg(checkpoint_dir, "exg_config_from_checkpoint", "checkpoint_dir");
        require_arg(out, "exg_config_from_checkpoint", "out");
        *out = read_hf_config(checkpoint_dir);
    });
}

EXG_API exg_status exg_config_validate(const exg_model_config* config) {
    return guard([&] {
        require_arg(config, "exg_config_validate", "config");
        validate_config(*config);
    });
}

}  // extern "C"
