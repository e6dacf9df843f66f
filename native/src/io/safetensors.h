// Safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}}, then the raw little-endian data. Files are memory-mapped and every header entry is
// checked against the file before any tensor is touched.
#pragma once

#include <exegpt/exegpt.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace exg {

struct TensorInfo {
    std::string name;
    std::string dtype;  // as written in the file ("F32", "BF16", "I64", ...)
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;
    size_t bytes = 0;
    std::string file;  // for error messages
};

class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::string& path);  // EXG_ERR_IO / EXG_ERR_FORMAT
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const TensorInfo* find(const std::string& name) const;
    const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    std::vector<uint8_t> owned_;  // fallback when mmap is unavailable
    std::map<std::string, TensorInfo> tensors_;
};

// Copies a [rows x cols] window of a 1-D or 2-D tensor (1-D: rows == 1) into F32 `dst`, converting
// F16/BF16. The tensor's dtype must be F32, F16 or BF16 (EXG_ERR_FORMAT otherwise).
void copy_tensor_f32(const TensorInfo& t, int64_t row_begin, int64_t rows, int64_t col_begin, int64_t cols, float* dst);

struct TensorToWrite {
    std::string name;
    std::vector<int64_t> shape;
    const float* data;  // F32 source, converted to the file dtype while writing
};
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors, exg_dtype dtype);

}  // namespace exg
