// CPU emulation of cuda_bf16.h (see cuda_runtime.h): __nv_bfloat16 as its bits, converted with
// core/dtype.h's round-to-nearest-even, which is what __float2bfloat16_rn specifies.
#pragma once

#include "cuda_runtime.h"
#include "core/dtype.h"

#define EXG_CUDA_EMU_BF16 1

struct __nv_bfloat16 { uint16_t x; };
struct __nv_bfloat162 { __nv_bfloat16 x, y; };
inline float __bfloat162float(__nv_bfloat16 h) { return exg::bf16_to_f32(h.x); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return {exg::f32_to_bf16(f)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return {__bfloat162float(h.x), __bfloat162float(h.y)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)}; }
