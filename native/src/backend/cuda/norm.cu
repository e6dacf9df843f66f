// LayerNorm / RMSNorm with the fused residual add (elementwise.h). One thread block per row; each thread
// owns the same elements (packs of 8, or single elements) in every pass, so it re-reads only what it wrote
// itself and needs no barrier for that; the barriers are those of the block reductions:
//   pass 1: x (+= residual, stored rounded to the storage dtype), sum of x (LayerNorm) or of x^2 (RMSNorm)
//   pass 2 (LayerNorm only): sum of (x - mean)^2, the two-pass variance (no cancellation for large means)
//   pass 3: out = (x - mean) * rsqrt(var + eps) * gamma + beta
// Passes 2 and 3 re-read the row from L1/L2 (at most 24 KiB for hidden 12288 in 16 bits); DRAM sees one
// read and one write per element, the least this op can do.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/storage.cuh"

#include <algorithm>
#include <climits>

namespace exg::cuda {
namespace {

constexpr int kMaxNormThreads = 512;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// The sum of v over the block, returned to every thread; blockDim.x is a multiple of 32 (<= 1024).
// Back-to-back calls are safe: a call's writes to warp_sums / total happen after a barrier that every
// thread reaches only once it has finished reading the previous call's values.
__device__ float block_sum(float v) {
    __shared__ float warp_sums[32];
    __shared__ float total;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < static_cast<int>(blockDim.x >> 5) ? warp_sums[lane] : 0.0f;
        s = warp_sum(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

struct NormArgs {
    int64_t dim;
    void* x;
    const void* residual;
    const void* gamma;
    const void* beta;
    void* out;  // may alias x when residual is null: every thread reads its elements before writing them
    float eps;
};

// N: elements per access (kPack when every pointer is 16-byte aligned and N divides dim, else 1).
template <DType D, int N, bool RMS>
__global__ void __launch_bounds__(kMaxNormThreads) layer_norm_kernel(NormArgs a) {
    using T = typename Storage<D>::T;
    const int64_t row = blockIdx.x;
    T* x = static_cast<T*>(a.x) + row * a.dim;
    const T* residual = a.residual != nullptr ? static_cast<const T*>(a.residual) + row * a.dim : nullptr;
    const T* gamma = static_cast<const T*>(a.gamma);
    const T* beta = static_cast<const T*>(a.beta);
    T* out = static_cast<T*>(a.out) + row * a.dim;
    const int64_t groups = a.dim / N;

    float s = 0.0f;
    for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
        float f[N];
        load<D, N>(x + g * N, f);
        if (residual != nullptr) {
            float r[N];
            load<D, N>(residual + g * N, r);
#pragma unroll
            for (int i = 0; i < N; ++i) f[i] += r[i];
            store<D, N>(x + g * N, f);
            round_to_storage<D, N>(f);  // the statistics of what was stored, as passes 2 and 3 read it
        }
#pragma unroll
        for (int i = 0; i < N; ++i) s += RMS ? f[i] * f[i] : f[i];
    }
    const float inv_dim = 1.0f / static_cast<float>(a.dim);
    const float first_moment = block_sum(s) * inv_dim;  // mean (LayerNorm) or mean of squares (RMSNorm)

    float mean = 0.0f;
    float inv_std;
    if constexpr (RMS) {
        inv_std = rsqrtf(first_moment + a.eps);
    } else {
        mean = first_moment;
        float v = 0.0f;
        for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
            float f[N];
            load<D, N>(x + g * N, f);
#pragma unroll
            for (int i = 0; i < N; ++i) {
                const float d = f[i] - mean;
                v += d * d;
            }
        }
        inv_std = rsqrtf(block_sum(v) * inv_dim + a.eps);
    }

    for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
        float f[N];
        load<D, N>(x + g * N, f);
#pragma unroll
        for (int i = 0; i < N; ++i) f[i] = (f[i] - mean) * inv_std;
        if (gamma != nullptr) {
            float w[N];
            load<D, N>(gamma + g * N, w);
#pragma unroll
            for (int i = 0; i < N; ++i) f[i] *= w[i];
        }
        if (beta != nullptr) {
            float b[N];
            load<D, N>(beta + g * N, b);
#pragma unroll
            for (int i = 0; i < N; ++i) f[i] += b[i];
        }
        store<D, N>(out + g * N, f);
    }
}

template <DType D>
void launch(const LayerNormParams& p, bool packed, cudaStream_t stream) {
    const NormArgs args{p.dim, p.x, p.residual, p.gamma, p.beta, p.out, p.eps};
    const int64_t groups = packed ? p.dim / kPack : p.dim;
    // One thread per access group up to kMaxNormThreads (whole warps); wider rows loop.
    const int threads = static_cast<int>(std::min<int64_t>(kMaxNormThreads, (groups + 31) / 32 * 32));
    const dim3 grid(static_cast<unsigned>(p.rows));
    if (packed) {
        if (p.rms) layer_norm_kernel<D, kPack, true><<<grid, threads, 0, stream>>>(args);
        else layer_norm_kernel<D, kPack, false><<<grid, threads, 0, stream>>>(args);
    } else {
        if (p.rms) layer_norm_kernel<D, 1, true><<<grid, threads, 0, stream>>>(args);
        else layer_norm_kernel<D, 1, false><<<grid, threads, 0, stream>>>(args);
    }
    check_launch("layer_norm_kernel");
}

}  // namespace

void layer_norm(DType dtype, const LayerNormParams& p, cudaStream_t stream) {
    require(p.rows >= 0 && p.dim > 0, EXG_ERR_INVALID_ARGUMENT, "layer_norm: bad shape ", p.rows, " x ", p.dim);
    require(p.rows <= INT_MAX, EXG_ERR_INVALID_ARGUMENT, "layer_norm: ", p.rows, " rows exceed one launch grid");
    require(!(p.rms && p.beta != nullptr), EXG_ERR_INVALID_ARGUMENT, "layer_norm: RMSNorm takes no beta");
    require(p.residual == nullptr || p.out != p.x, EXG_ERR_INVALID_ARGUMENT,
            "layer_norm: out may alias x only without a residual");
    if (p.rows == 0) return;
    const bool packed = p.dim % kPack == 0 && aligned16(p.x) && aligned16(p.out) &&
                        (p.residual == nullptr || aligned16(p.residual)) && (p.gamma == nullptr || aligned16(p.gamma)) &&
                        (p.beta == nullptr || aligned16(p.beta));
    if (dtype == DType::F16) launch<DType::F16>(p, packed, stream);
    else launch<DType::BF16>(p, packed, stream);
}

}  // namespace exg::cuda
