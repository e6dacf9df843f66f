// Device-side access to storage-dtype tensors for the memory-bound kernels of norm.cu and elementwise.cu:
// F16/BF16 <-> F32 conversion, one element or a pack of 8 (16 bytes: one 128-bit load or store).
// Callers guarantee 16-byte alignment for the packed forms (the host launchers check it).
#pragma once

#include "backend/cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace exg::cuda {

template <DType D>
struct Storage;

template <>
struct Storage<DType::F16> {
    using T = __half;
    using T2 = __half2;
    static __device__ __forceinline__ float to_float(T v) { return __half2float(v); }
    static __device__ __forceinline__ T from_float(float v) { return __float2half_rn(v); }
    static __device__ __forceinline__ float2 to_float2(T2 v) { return __half22float2(v); }
    static __device__ __forceinline__ T2 from_float2(float a, float b) { return __floats2half2_rn(a, b); }
};

template <>
struct Storage<DType::BF16> {
    using T = __nv_bfloat16;
    using T2 = __nv_bfloat162;
    static __device__ __forceinline__ float to_float(T v) { return __bfloat162float(v); }
    static __device__ __forceinline__ T from_float(float v) { return __float2bfloat16_rn(v); }
    static __device__ __forceinline__ float2 to_float2(T2 v) { return __bfloat1622float2(v); }
    static __device__ __forceinline__ T2 from_float2(float a, float b) { return __floats2bfloat162_rn(a, b); }
};

static_assert(sizeof(Storage<DType::F16>::T) == 2 && sizeof(Storage<DType::BF16>::T) == 2, "16-bit storage");
static_assert(sizeof(Storage<DType::F16>::T2) == 4 && sizeof(Storage<DType::BF16>::T2) == 4, "pairs of 16-bit values");

constexpr int kPack = 8;  // storage elements per 16-byte pack

// Reinterpretation of one 16-byte pack as four pairs (the usual CUDA idiom; nvcc keeps it in registers).
template <DType D>
union Pack {
    uint4 raw;
    typename Storage<D>::T2 pair[kPack / 2];
};
static_assert(sizeof(Pack<DType::BF16>) == 16 && sizeof(Pack<DType::F16>) == 16, "one pack is one 128-bit access");

// f[0..N) = p[0..N) as F32; N is kPack (one 16-byte load, p 16-byte aligned) or 1.
template <DType D, int N>
__device__ __forceinline__ void load(const typename Storage<D>::T* p, float (&f)[N]) {
    static_assert(N == kPack || N == 1, "a pack of 8 or one element");
    if constexpr (N == kPack) {
        Pack<D> v;
        v.raw = *reinterpret_cast<const uint4*>(p);
#pragma unroll
        for (int i = 0; i < kPack / 2; ++i) {
            const float2 t = Storage<D>::to_float2(v.pair[i]);
            f[2 * i] = t.x;
            f[2 * i + 1] = t.y;
        }
    } else {
        f[0] = Storage<D>::to_float(*p);
    }
}

// p[0..N) = f[0..N) rounded to the storage dtype.
template <DType D, int N>
__device__ __forceinline__ void store(typename Storage<D>::T* p, const float (&f)[N]) {
    static_assert(N == kPack || N == 1, "a pack of 8 or one element");
    if constexpr (N == kPack) {
        Pack<D> v;
#pragma unroll
        for (int i = 0; i < kPack / 2; ++i) v.pair[i] = Storage<D>::from_float2(f[2 * i], f[2 * i + 1]);
        *reinterpret_cast<uint4*>(p) = v.raw;
    } else {
        *p = Storage<D>::from_float(f[0]);
    }
}

// f rounded through the storage dtype, as a store followed by a load would give it.
template <DType D, int N>
__device__ __forceinline__ void round_to_storage(float (&f)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) f[i] = Storage<D>::to_float(Storage<D>::from_float(f[i]));
}

// True when p is 16-byte aligned (a host-side check before picking the packed kernels).
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace exg::cuda
