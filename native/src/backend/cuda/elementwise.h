// Launch interface of CudaBackend's own small kernels (norm.cu, elementwise.cu): memory-bound ops over
// storage-dtype tensors with F32 arithmetic. Like kernels.h: device pointers only (the backend stages host
// metadata first), a stream, no allocation, no synchronisation. Each launch checks its configuration and
// picks 16-byte vector accesses when every pointer and row length allows them, scalar ones otherwise.
#pragma once

#include "backend/backend.h"
#include "backend/cuda/kernels.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace exg::cuda {

// backend.h's LayerNorm with the fused residual add (x += residual, stored, then normalised): one block per
// row, F32 statistics, the variance in two passes over the row (no cancellation for rows with a large mean).
// The statistics are those of the stored (rounded) sum, the tensor every later op sees.
void layer_norm(DType dtype, const LayerNormParams& p, cudaStream_t stream);

// backend.h's embedding (+ learned positions, accumulate) in one pass, except that ids and pos_ids are
// DEVICE arrays here (the backend staged them). The sum is formed in F32 and rounded once.
void embedding(DType dtype, const EmbeddingParams& p, cudaStream_t stream);

// x[i] += y[i], i < n.
void add(DType dtype, void* x, const void* y, int64_t n, cudaStream_t stream);

// dst row i = src row rows[i] for i < count, rows of row_bytes bytes (a plain copy: no dtype); rows is a
// DEVICE array.
void gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t row_bytes, cudaStream_t stream);

// Conversions between F32 and the storage dtype (round to nearest even; NaN stays NaN, overflow to inf).
void f32_to_storage(DType dtype, void* dst, const float* src, int64_t n, cudaStream_t stream);
void storage_to_f32(DType dtype, float* dst, const void* src, int64_t n, cudaStream_t stream);

}  // namespace exg::cuda
