// Helpers the op sweeps share: seeded inputs rounded through a storage dtype, storage-dtype tensors
// on a backend, and the registration functions of each op family (one file each).
#pragma once

#include "op_harness.h"

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace exg::ops {

// Seeded uniform floats in [lo, hi).
std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
// Each value replaced by the nearest one `dtype` stores (round to nearest even; identity for F32).
void round_through(std::vector<float>& values, exg_dtype dtype);
// random_floats rounded through `dtype`: the inputs both backends of a comparison receive.
std::vector<float> inputs(size_t n, uint32_t seed, exg_dtype dtype, float lo = -1.0f, float hi = 1.0f);

// A tensor of `count` storage-dtype elements in a backend's memory.
class Tensor {
public:
    Tensor() = default;
    Tensor(Backend& b, int64_t count);                    // contents undefined
    Tensor(Backend& b, const std::vector<float>& values);  // upload_f32
    void* data() const { return buf_.data(); }
    void* at(int64_t element) const { return offset(buf_.data(), element, b_->element_size()); }
    int64_t count() const { return count_; }
    // Every element, as F32 (synchronises: results are in place).
    std::vector<float> read() const;

private:
    Backend* b_ = nullptr;
    int64_t count_ = 0;
    Buffer buf_;
};

// An always-F32 buffer (logits, out_f32 GEMM outputs) with raw uploads and downloads.
class F32Buffer {
public:
    F32Buffer() = default;
    F32Buffer(Backend& b, const std::vector<float>& values);
    float* data() const { return buf_.f32(); }
    std::vector<float> read() const;

private:
    Backend* b_ = nullptr;
    size_t count_ = 0;
    Buffer buf_;
};

Output tolerance_output(std::string name, std::vector<float> values);
Output exact_output(std::string name, std::vector<float> values);

const char* activation_name(int32_t activation);

template <class... Parts>
std::string describe(const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    return os.str();
}

// The op families, each appending its sweep.
void add_gemm_cases(std::vector<OpCase>& cases, Sweep sweep);
void add_norm_cases(std::vector<OpCase>& cases, Sweep sweep);
void add_elementwise_cases(std::vector<OpCase>& cases, Sweep sweep);  // embedding, add, gather_rows
void add_memory_cases(std::vector<OpCase>& cases, Sweep sweep);       // conversions, 2-D and device copies
void add_attention_cases(std::vector<OpCase>& cases, Sweep sweep);
void add_sample_cases(std::vector<OpCase>& cases, Sweep sweep);

}  // namespace exg::ops
