// CPU emulation of the small part of the CUDA runtime and device language that the hand-written kernels
// of native/src/backend/cuda use, so their REAL source (rewritten only at the <<<...>>> launches by
// transform.py) runs on the host in the CI tests of this folder.
//
// What it does: every block of a launch runs as blockDim.x cooperative fibers (one per CUDA thread) on
// one host thread; blocks run one after another. __syncthreads and the warp primitives (shuffles, ballot)
// are real rendezvous points: a fiber waits there until every thread of its block / warp has arrived, so
// the kernels' data flow through shared memory and registers is executed as written. __shared__ is a
// static variable (one copy, shared by the block's fibers). Deviations CUDA leaves undefined are reported
// and abort the test: a barrier or warp primitive reached after some thread of the block / warp exited,
// and a deadlock (threads of one block stuck at different barriers, e.g. a __syncthreads in divergent code).
//
// What it does NOT show: anything about the GPU's memory model (fibers switch only at barriers, so a
// missing __syncthreads between a shared-memory write and another thread's read can go unnoticed when the
// writer happens to run first; missing __threadfence / volatile cannot be seen at all), the rounding of
// device intrinsics (exp2f, rsqrtf, exp are the host libm's here; __half / __nv_bfloat16 conversions are
// core/dtype.h's), alignment faults, occupancy, register or shared-memory limits, launch-configuration
// errors, timing, and kernels that use inline PTX (mma, cp.async), which cannot be emulated at all.
// Passing here means: the kernel's index arithmetic, masking, reductions, split/merge logic and
// numerics in F32/F64 agree with an independent reference for the shapes tested.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

// Marks this header as the emulation (the tests and the transformed sources refuse the real one).
#define EXG_CUDA_EMU 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint4 { unsigned x, y, z, w; };
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }

using cudaStream_t = struct CUstream_emu*;
enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated"; }
inline const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }

// Device math with the host's libm (see the header comment: not the device's rounding).
using std::isnan;
template <class T>
inline T min(T a, T b) { return a < b ? a : b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

// The built-in variables: the scheduler sets them before it resumes a fiber.
inline dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace emu {
// Block-wide barrier (__syncthreads) and warp-wide exchange of one 8-byte value per lane; defined in
// emu_runtime.cpp. exchange returns the value lane src_lane passed (or v itself when !valid_src).
void sync_block();
uint64_t warp_exchange(uint64_t v, int src_lane, bool valid_src);
uint32_t warp_ballot(bool p);
void run_grid(dim3 grid, dim3 block, const std::function<void()>& body);
long long launch_count();  // kernels launched so far (tests check which paths ran)

template <class T>
T exchange(T v, int src_lane, bool valid_src = true) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "one register's worth");
    uint64_t raw = 0;
    std::memcpy(&raw, &v, sizeof(T));
    raw = warp_exchange(raw, src_lane, valid_src);
    T out;
    std::memcpy(&out, &raw, sizeof(T));
    return out;
}

// kernel<<<grid, block, smem, stream>>>(args...) after transform.py. Arguments are evaluated once and
// copied, as the launch copies them into the kernel's parameter space.
template <class... P, class G, class B, class... A>
void launch(void (*kernel)(P...), G grid, B block, size_t dynamic_smem, cudaStream_t, A&&... args) {
    if (dynamic_smem != 0) throw std::logic_error("emu: dynamic shared memory is not emulated");
    std::tuple<std::decay_t<A>...> copied(std::forward<A>(args)...);
    run_grid(dim3(grid), dim3(block), [&] { std::apply([&](const auto&... a) { kernel(a...); }, copied); });
}
}  // namespace emu

inline void __syncthreads() { emu::sync_block(); }
inline unsigned lane_of_emu() { return threadIdx.x % 32; }
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask) { return emu::exchange(v, static_cast<int>(lane_of_emu()) ^ mask); }
template <class T>
T __shfl_up_sync(unsigned, T v, int delta) {
    const int src = static_cast<int>(lane_of_emu()) - delta;
    return emu::exchange(v, src, src >= 0);
}
template <class T>
T __shfl_sync(unsigned, T v, int src) { return emu::exchange(v, src & 31); }
inline unsigned __ballot_sync(unsigned, bool p) { return emu::warp_ballot(p); }

// Atomics: fibers switch only at barriers, so a plain read-modify-write is atomic here.
template <class T>
T atomicAdd(T* p, T v) {
    const T old = *p;
    *p = old + v;
    return old;
}

inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned long long __double2ull_rn(double x) { return static_cast<unsigned long long>(std::nearbyint(x)); }
template <class T>
T __ldg(const T* p) { return *p; }
