// CPU emulation of cuda_fp16.h (see cuda_runtime.h): __half as its bits, converted with core/dtype.h's
// round-to-nearest-even, which is what __float2half_rn specifies.
#pragma once

#include "cuda_runtime.h"
#include "core/dtype.h"

#define EXG_CUDA_EMU_FP16 1

struct __half { uint16_t x; };
struct __half2 { __half x, y; };
inline float __half2float(__half h) { return exg::f16_to_f32(h.x); }
inline __half __float2half_rn(float f) { return {exg::f32_to_f16(f)}; }
inline float2 __half22float2(__half2 h) { return {__half2float(h.x), __half2float(h.y)}; }
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
