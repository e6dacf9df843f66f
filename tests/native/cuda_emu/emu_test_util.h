// Helpers shared by the emulated-kernel tests: 16-bit storage encode/decode (core/dtype.h), 64-byte
// aligned host buffers (the kernels take 16-byte-aligned fast paths; an offset of one element forces the
// scalar ones), and the rounding tolerance of a 16-bit store.
#pragma once

#include "backend/cuda/kernels.h"
#include "core/dtype.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>

#ifndef EXG_CUDA_EMU
#error "tests/native/cuda_emu must compile against its emulated cuda_runtime.h, not the real one"
#endif

namespace exg::cuda {
// Readable GoogleTest parameter names.
inline void PrintTo(DType t, std::ostream* os) { *os << (t == DType::BF16 ? "bf16" : "f16"); }
}  // namespace exg::cuda

namespace exg::emu_test {

inline const char* name(cuda::DType t) { return t == cuda::DType::BF16 ? "bf16" : "f16"; }
inline uint16_t enc(cuda::DType t, float f) { return t == cuda::DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f); }
inline float dec(cuda::DType t, uint16_t h) { return t == cuda::DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h); }
inline float round16(cuda::DType t, float f) { return dec(t, enc(t, f)); }
// Relative spacing of the 16-bit format (2^-7 bf16, 2^-10 f16): one rounding to storage errs by at most
// half of it.
inline double ulp16(cuda::DType t) { return t == cuda::DType::BF16 ? 0x1p-7 : 0x1p-10; }

// Zero-filled, 64-byte aligned array of T.
template <class T>
struct Buffer {
    explicit Buffer(size_t n) : size(n), data(static_cast<T*>(std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64 + 64))) {
        std::memset(static_cast<void*>(data.get()), 0, (n * sizeof(T) + 63) / 64 * 64 + 64);
    }
    T* get() const { return data.get(); }
    T& operator[](size_t i) const { return data.get()[i]; }
    size_t size;
    struct Free {
        void operator()(T* p) const { std::free(p); }
    };
    std::unique_ptr<T, Free> data;
};

}  // namespace exg::emu_test
