// bias_activation: x[r, c] = act(x[r, c] + bias[c]) in place — what cuBLASLt's epilogues cannot do (the
// exact-erf GELU, SiLU) or cannot take (a bias that is not 16-byte aligned). kernels.h declares it.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/storage.cuh"
#include "core/activation.h"  // the CPU backend's formulas, in F32
#include "core/error.h"

#include <algorithm>

namespace exg::cuda {
namespace {

// Grid: x covers the columns in groups of N (one group per thread, its bias slice held in registers); y
// strides over the rows. For N == kPack the host guarantees that x, bias and every row start are 16-byte
// aligned and that cols is a multiple of kPack.
template <DType D, int N>
__global__ void bias_activation_kernel(typename Storage<D>::T* __restrict__ x, int64_t rows, int64_t groups,
                                       int64_t ld, const typename Storage<D>::T* __restrict__ bias,
                                       int32_t activation) {
    const int64_t group = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (group >= groups) return;
    const int64_t col = group * N;
    float b[N] = {};
    if (bias != nullptr) load<D, N>(bias + col, b);
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        float v[N];
        load<D, N>(x + r * ld + col, v);
#pragma unroll
        for (int j = 0; j < N; ++j) v[j] = activate(v[j] + b[j], activation);
        store<D, N>(x + r * ld + col, v);
    }
}

// F32 output (the LM head's logits) with a storage-dtype bias: one element per thread.
template <DType D>
__global__ void bias_activation_f32_kernel(float* __restrict__ x, int64_t rows, int64_t cols, int64_t ld,
                                           const typename Storage<D>::T* __restrict__ bias, int32_t activation) {
    const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (col >= cols) return;
    const float b = bias != nullptr ? Storage<D>::to_float(bias[col]) : 0.0f;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) x[r * ld + col] = activate(x[r * ld + col] + b, activation);
}

dim3 grid_for(int64_t groups, int64_t rows, int threads) {
    return dim3(static_cast<unsigned>((groups + threads - 1) / threads), static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
}

int threads_for(int64_t groups) { return static_cast<int>(std::min<int64_t>(256, (groups + 31) / 32 * 32)); }

template <DType D>
void launch(void* x_, int64_t rows, int64_t cols, int64_t ld, const void* bias_, int32_t activation,
            cudaStream_t stream) {
    using T = typename Storage<D>::T;
    auto* x = static_cast<T*>(x_);
    const auto* bias = static_cast<const T*>(bias_);
    const bool packed = aligned16(x) && (bias == nullptr || aligned16(bias)) && (ld * sizeof(T)) % 16 == 0 &&
                        cols % kPack == 0;
    const int64_t groups = packed ? cols / kPack : cols;
    const int threads = threads_for(groups);
    const dim3 grid = grid_for(groups, rows, threads);
    if (packed)
        bias_activation_kernel<D, kPack><<<grid, threads, 0, stream>>>(x, rows, groups, ld, bias, activation);
    else
        bias_activation_kernel<D, 1><<<grid, threads, 0, stream>>>(x, rows, groups, ld, bias, activation);
    check_launch("bias_activation");
}

template <DType D>
void launch_f32(float* x, int64_t rows, int64_t cols, int64_t ld, const void* bias, int32_t activation,
                cudaStream_t stream) {
    const int threads = threads_for(cols);
    bias_activation_f32_kernel<D><<<grid_for(cols, rows, threads), threads, 0, stream>>>(
        x, rows, cols, ld, static_cast<const typename Storage<D>::T*>(bias), activation);
    check_launch("bias_activation (f32 output)");
}

// True when there is work; the errors name the bad argument.
bool check_args(DType dtype, const void* x, int64_t rows, int64_t cols, int64_t ld, const void* bias,
                int32_t activation) {
    check_storage_dtype(dtype, "bias_activation");
    require(activation >= -1 && activation <= EXG_ACT_SILU, EXG_ERR_INVALID_ARGUMENT,
            "bias_activation: unknown activation ", activation);
    require(rows >= 0 && cols > 0 && ld >= cols, EXG_ERR_INVALID_ARGUMENT, "bias_activation: rows=", rows, " cols=",
            cols, " ld=", ld, " (need rows >= 0, cols > 0, ld >= cols)");
    if (rows == 0 || (bias == nullptr && activation < 0)) return false;
    require(x != nullptr, EXG_ERR_INVALID_ARGUMENT, "bias_activation: x is null");
    return true;
}

}  // namespace

void bias_activation(DType dtype, void* x, int64_t rows, int64_t cols, int64_t ld, const void* bias,
                     int32_t activation, cudaStream_t stream) {
    if (!check_args(dtype, x, rows, cols, ld, bias, activation)) return;
    if (dtype == DType::F16) launch<DType::F16>(x, rows, cols, ld, bias, activation, stream);
    else launch<DType::BF16>(x, rows, cols, ld, bias, activation, stream);
}

void bias_activation_f32(DType bias_dtype, float* x, int64_t rows, int64_t cols, int64_t ld, const void* bias,
                         int32_t activation, cudaStream_t stream) {
    if (!check_args(bias_dtype, x, rows, cols, ld, bias, activation)) return;
    if (bias_dtype == DType::F16) launch_f32<DType::F16>(x, rows, cols, ld, bias, activation, stream);
    else launch_f32<DType::BF16>(x, rows, cols, ld, bias, activation, stream);
}

}  // namespace exg::cuda
