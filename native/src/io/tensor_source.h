// Where a shard's weights come from: a Hugging Face checkpoint or a seeded random init. Both are
// addressed by Hugging Face tensor names and read window by window, so a tensor-parallel shard reads
// only its rows/columns and every sharding of one seed sees the same full model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace exg {

class SafetensorsFile;
struct TensorInfo;

struct TensorWindow {
    int64_t rows, cols;          // full shape the config implies (1-D tensors: rows = 1)
    int64_t row_begin, row_count;
    int64_t col_begin, col_count;
};

// The name a tensor has in a Hugging Face OPT file: "decoder.*" tensors live under "model.",
// "lm_head.weight" at the top.
std::string hf_file_name(const std::string& name);

class TensorSource {
public:
    virtual ~TensorSource() = default;
    // Reads window `w` of tensor `name` (HF name without the "model." prefix) into dst as F32.
    virtual void read(const std::string& name, const TensorWindow& w, float* dst) = 0;
    // Checks that the tensor exists with the shape the config implies and a readable dtype,
    // without reading it (run over every tensor before anything is allocated).
    virtual void check(const std::string& name, const TensorWindow& w) { (void)name, (void)w; }
};

class RandomTensorSource final : public TensorSource {
public:
    explicit RandomTensorSource(uint64_t seed) : seed_(seed) {}
    void read(const std::string& name, const TensorWindow& w, float* dst) override;

private:
    uint64_t seed_;
};

class CheckpointTensorSource final : public TensorSource {
public:
    explicit CheckpointTensorSource(const std::string& dir);  // finds the index or the single file
    ~CheckpointTensorSource() override;
    void read(const std::string& name, const TensorWindow& w, float* dst) override;
    void check(const std::string& name, const TensorWindow& w) override;

private:
    const TensorInfo& locate(const std::string& name, const TensorWindow& w);
    const SafetensorsFile& file(const std::string& file_name);
    std::string dir_;
    std::map<std::string, std::string> weight_map_;  // tensor -> file (sharded checkpoints)
    std::string single_file_;
    std::map<std::string, std::unique_ptr<SafetensorsFile>> open_;
};

}  // namespace exg
