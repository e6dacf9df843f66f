// Scalar conversions for checkpoint dtypes. The CPU backend computes in F32; F16/BF16 appear only
// in files, so conversions run once at load/save time.
#pragma once

#include <exegpt/exegpt.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace exg {

inline size_t dtype_size(exg_dtype t) { return t == EXG_DTYPE_F32 ? 4 : 2; }

inline const char* dtype_safetensors_name(exg_dtype t) {
    switch (t) {
        case EXG_DTYPE_F32: return "F32";
        case EXG_DTYPE_F16: return "F16";
        case EXG_DTYPE_BF16: return "BF16";
    }
    return "?";
}

// The lowercase name of messages, file names and benchmark results: "f32", "f16", "bf16". Takes an int32_t, as
// the C ABI and the KV blob header carry dtypes; any other value is "unknown-dtype".
inline const char* dtype_name(int32_t t) {
    switch (t) {
        case EXG_DTYPE_F32: return "f32";
        case EXG_DTYPE_F16: return "f16";
        case EXG_DTYPE_BF16: return "bf16";
    }
    return "unknown-dtype";
}

inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Round to nearest even, NaN kept quiet (as PyTorch does).
inline uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>(bits >> 16);
}

inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline uint16_t f32_to_f16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u) return sign | 0x7e00u;        // NaN
    if (abs >= 0x477ff000u) return sign | 0x7c00u;       // rounds to >= 65520: inf
    if (abs < 0x38800000u) {                             // below the smallest normal: subnormal or 0
        if (abs < 0x33000000u) return sign;              // < 2^-25 rounds to 0
        const uint32_t exp = abs >> 23;
        const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - exp;                // 14 + (113 - exp) - 1 ... align to 2^-24 units
        uint32_t v = mant >> (shift - 0);
        const uint32_t rem = mant & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (v & 1u))) ++v;
        return sign | static_cast<uint16_t>(v);
    }
    uint32_t v = ((abs >> 13) - ((127 - 15) << 10));
    const uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) ++v;
    return sign | static_cast<uint16_t>(v);
}

// One value in storage dtype t: the dtype_size(t) bytes at `bits`, from F32 (rounded as above) and back.
inline void f32_to_storage(exg_dtype t, float f, void* bits) {
    if (t == EXG_DTYPE_F32) {
        std::memcpy(bits, &f, 4);
        return;
    }
    const uint16_t h = t == EXG_DTYPE_BF16 ? f32_to_bf16(f) : f32_to_f16(f);
    std::memcpy(bits, &h, 2);
}

inline float storage_to_f32(exg_dtype t, const void* bits) {
    if (t == EXG_DTYPE_F32) {
        float f;
        std::memcpy(&f, bits, 4);
        return f;
    }
    uint16_t h;
    std::memcpy(&h, bits, 2);
    return t == EXG_DTYPE_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

}  // namespace exg
