#include "io/tensor_source.h"

#include "core/error.h"
#include "core/splitmix.h"
#include "io/safetensors.h"

#include <nlohmann/json.hpp>
#include <omp.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace exg {
namespace {

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_string(const std::vector<int64_t>& shape) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    os << ']';
    return os.str();
}

}  // namespace

std::string hf_file_name(const std::string& name) {
    return name.rfind("decoder.", 0) == 0 ? "model." + name : name;
}

// Values are a pure function of (seed, tensor name, element index): uniform noise around the
// init a trained OPT would start from (LayerNorm gains near 1, small biases, weights of std 0.02).
void RandomTensorSource::read(const std::string& name, const TensorWindow& w, float* dst) {
    const uint64_t stream = splitmix64(seed_ ^ fnv1a(name));
    float center = 0.0f, amplitude = 0.0346f;  // uniform(-a, a) with a = 0.02 * sqrt(3)
    if (ends_with(name, "layer_norm.weight")) {
        center = 1.0f;
        amplitude = 0.1f;
    } else if (ends_with(name, "layer_norm.bias")) {
        amplitude = 0.05f;
    } else if (ends_with(name, ".bias")) {
        amplitude = 0.02f;
    }
#pragma omp parallel for num_threads(omp_get_num_procs()) schedule(static) if (w.row_count * w.col_count > 65536)
    for (int64_t r = 0; r < w.row_count; ++r) {
        for (int64_t c = 0; c < w.col_count; ++c) {
            const uint64_t index = static_cast<uint64_t>((w.row_begin + r) * w.cols + w.col_begin + c);
            const uint64_t bits = splitmix64(stream + index * kSplitMixIncrement);
            const float u = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;  // [-1, 1)
            dst[r * w.col_count + c] = center + amplitude * u;
        }
    }
}

CheckpointTensorSource::CheckpointTensorSource(const std::string& dir) : dir_(dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail(EXG_ERR_IO, "checkpoint directory \"", dir, "\" does not exist");
    const fs::path index = fs::path(dir) / "model.safetensors.index.json";
    if (fs::exists(index, ec)) {
        std::ifstream in(index);
        if (!in) fail(EXG_ERR_IO, "cannot open ", index.string());
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            fail(EXG_ERR_FORMAT, index.string(), ": not valid JSON (", e.what(), ")");
        }
        if (!j.contains("weight_map") || !j["weight_map"].is_object())
            fail(EXG_ERR_FORMAT, index.string(), ": missing \"weight_map\" object");
        for (auto& [tensor, file] : j["weight_map"].items()) {
            if (!file.is_string()) fail(EXG_ERR_FORMAT, index.string(), ": weight_map entry \"", tensor, "\" is not a file name");
            const auto name = file.get<std::string>();
            if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
                fail(EXG_ERR_FORMAT, index.string(), ": weight_map file \"", name, "\" must be a plain file name");
            weight_map_[tensor] = name;
        }
        return;
    }
    if (fs::exists(fs::path(dir) / "model.safetensors", ec)) {
        single_file_ = "model.safetensors";
        return;
    }
    fail(EXG_ERR_IO, "checkpoint directory \"", dir,
         "\" has neither model.safetensors nor model.safetensors.index.json (PyTorch .bin checkpoints are not "
         "read: convert them to safetensors)");
}

CheckpointTensorSource::~CheckpointTensorSource() = default;

const SafetensorsFile& CheckpointTensorSource::file(const std::string& file_name) {
    auto it = open_.find(file_name);
    if (it == open_.end())
        it = open_.emplace(file_name, std::make_unique<SafetensorsFile>(dir_ + "/" + file_name)).first;
    return *it->second;
}

const TensorInfo& CheckpointTensorSource::locate(const std::string& name, const TensorWindow& w) {
    // Current exports write hf_file_name(name); older ones the bare "decoder.*".
    const std::string candidates[] = {hf_file_name(name), name};
    const TensorInfo* t = nullptr;
    for (const auto& candidate : candidates) {
        if (!single_file_.empty()) {
            t = file(single_file_).find(candidate);
        } else if (auto it = weight_map_.find(candidate); it != weight_map_.end()) {
            t = file(it->second).find(candidate);
            if (t == nullptr)
                fail(EXG_ERR_FORMAT, "tensor \"", candidate, "\" is listed in the index under ", it->second,
                     " but that file does not contain it");
        }
        if (t != nullptr) break;
    }
    if (t == nullptr) fail(EXG_ERR_FORMAT, "checkpoint \"", dir_, "\" is missing tensor \"", candidates[0], "\"");
    // 1-D tensors (biases, LayerNorm) are requested as a single row.
    const std::vector<int64_t> expected = w.rows == 1 ? std::vector<int64_t>{w.cols} : std::vector<int64_t>{w.rows, w.cols};
    if (t->shape != expected)
        fail(EXG_ERR_FORMAT, "tensor \"", t->name, "\" in ", t->file, " has shape ", shape_string(t->shape),
             " but the config implies ", shape_string(expected));
    if (t->dtype != "F32" && t->dtype != "F16" && t->dtype != "BF16")
        fail(EXG_ERR_FORMAT, t->file, ": tensor \"", t->name, "\" has dtype ", t->dtype,
             "; supported dtypes are F32, F16 and BF16");
    return *t;
}

void CheckpointTensorSource::check(const std::string& name, const TensorWindow& w) { locate(name, w); }

void CheckpointTensorSource::read(const std::string& name, const TensorWindow& w, float* dst) {
    copy_tensor_f32(locate(name, w), w.row_begin, w.row_count, w.col_begin, w.col_count, dst);
}

}  // namespace exg
