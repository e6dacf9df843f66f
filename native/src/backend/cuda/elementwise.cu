// Embedding (+ positions), add, gather_rows and the F32 <-> storage conversions (elementwise.h).
// Row ops (embedding, gather_rows) run one thread block per row; flat ops (add, conversions) run a
// grid-stride loop over 16-byte packs plus a scalar tail, so any length works and aligned data moves in
// 128-bit accesses. All arithmetic is F32, rounded once on the store.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/storage.cuh"

#include <algorithm>
#include <climits>

namespace exg::cuda {
namespace {

constexpr int kFlatThreads = 256;
// Enough resident threads to saturate memory bandwidth on any sm_80..sm_90 part (132 SMs x 2048 threads on
// an H100 is 1056 blocks of 256); larger inputs loop.
constexpr int64_t kMaxFlatBlocks = 4096;
constexpr int kMaxRowThreads = 256;

dim3 flat_grid(int64_t work) {
    return dim3(static_cast<unsigned>(std::clamp<int64_t>((work + kFlatThreads - 1) / kFlatThreads, 1, kMaxFlatBlocks)));
}

// Whole warps, one per 32 access groups of a row, up to kMaxRowThreads.
int row_threads(int64_t groups) { return static_cast<int>(std::clamp<int64_t>((groups + 31) / 32 * 32, 32, kMaxRowThreads)); }

void require_grid_rows(int64_t rows, const char* op) {
    require(rows <= INT_MAX, EXG_ERR_INVALID_ARGUMENT, op, ": ", rows, " rows exceed one launch grid");
}

// --- embedding ------------------------------------------------------------------------------------------

struct EmbeddingArgs {
    int64_t dim;
    const int32_t* ids;
    int64_t id_offset;
    const void* table;
    const int32_t* pos_ids;
    int64_t pos_offset;
    const void* pos_table;
    void* out;
    int32_t accumulate;
};

template <DType D, int N>
__global__ void __launch_bounds__(kMaxRowThreads) embedding_kernel(EmbeddingArgs a) {
    using T = typename Storage<D>::T;
    const int64_t row = blockIdx.x;
    const T* token = static_cast<const T*>(a.table) + (a.ids[row] + a.id_offset) * a.dim;
    const T* position =
        a.pos_table != nullptr ? static_cast<const T*>(a.pos_table) + (a.pos_ids[row] + a.pos_offset) * a.dim : nullptr;
    T* out = static_cast<T*>(a.out) + row * a.dim;
    const int64_t groups = a.dim / N;
    for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
        float f[N];
        load<D, N>(token + g * N, f);
        if (position != nullptr) {
            float p[N];
            load<D, N>(position + g * N, p);
#pragma unroll
            for (int i = 0; i < N; ++i) f[i] += p[i];
        }
        if (a.accumulate) {
            float o[N];
            load<D, N>(out + g * N, o);
#pragma unroll
            for (int i = 0; i < N; ++i) f[i] += o[i];
        }
        store<D, N>(out + g * N, f);
    }
}

template <DType D>
void launch_embedding(const EmbeddingParams& p, cudaStream_t stream) {
    const bool packed = p.dim % kPack == 0 && aligned16(p.table) && aligned16(p.out) &&
                        (p.pos_table == nullptr || aligned16(p.pos_table));
    const EmbeddingArgs args{p.dim,     p.ids,        p.id_offset, p.table, p.pos_ids,
                             p.pos_offset, p.pos_table, p.out,       p.accumulate};
    const int threads = row_threads(packed ? p.dim / kPack : p.dim);
    const dim3 grid(static_cast<unsigned>(p.rows));
    if (packed) embedding_kernel<D, kPack><<<grid, threads, 0, stream>>>(args);
    else embedding_kernel<D, 1><<<grid, threads, 0, stream>>>(args);
    check_launch("embedding_kernel");
}

// --- add --------------------------------------------------------------------------------------------------

template <DType D, int N>
__global__ void __launch_bounds__(kFlatThreads) add_kernel(void* x_ptr, const void* y_ptr, int64_t n) {
    using T = typename Storage<D>::T;
    T* x = static_cast<T*>(x_ptr);
    const T* y = static_cast<const T*>(y_ptr);
    const int64_t groups = n / N;
    const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t g = first; g < groups; g += stride) {
        float a[N], b[N];
        load<D, N>(x + g * N, a);
        load<D, N>(y + g * N, b);
#pragma unroll
        for (int i = 0; i < N; ++i) a[i] += b[i];
        store<D, N>(x + g * N, a);
    }
    const int64_t tail = groups * N + first;  // the n % N elements after the last pack (none when N == 1)
    if (N > 1 && tail < n) {
        float a[1], b[1];
        load<D, 1>(x + tail, a);
        load<D, 1>(y + tail, b);
        a[0] += b[0];
        store<D, 1>(x + tail, a);
    }
}

template <DType D>
void launch_add(void* x, const void* y, int64_t n, cudaStream_t stream) {
    if (aligned16(x) && aligned16(y)) add_kernel<D, kPack><<<flat_grid(n / kPack), kFlatThreads, 0, stream>>>(x, y, n);
    else add_kernel<D, 1><<<flat_grid(n), kFlatThreads, 0, stream>>>(x, y, n);
    check_launch("add_kernel");
}

// --- gather_rows --------------------------------------------------------------------------------------------

// W: the access word (uint4, uint16_t or uint8_t), the widest that the row length and both bases allow.
template <class W>
__global__ void __launch_bounds__(kMaxRowThreads)
    gather_rows_kernel(W* dst, const W* src, const int32_t* rows, int64_t words_per_row) {
    const int64_t i = blockIdx.x;
    const W* from = src + static_cast<int64_t>(rows[i]) * words_per_row;
    W* to = dst + i * words_per_row;
    for (int64_t w = threadIdx.x; w < words_per_row; w += blockDim.x) to[w] = from[w];
}

template <class W>
void launch_gather(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t row_bytes,
                   cudaStream_t stream) {
    const int64_t words = row_bytes / static_cast<int64_t>(sizeof(W));
    gather_rows_kernel<W><<<static_cast<unsigned>(count), row_threads(words), 0, stream>>>(
        static_cast<W*>(dst), static_cast<const W*>(src), rows, words);
    check_launch("gather_rows_kernel");
}

// --- conversions -----------------------------------------------------------------------------------------

template <DType D, int N>
__global__ void __launch_bounds__(kFlatThreads) f32_to_storage_kernel(void* dst_ptr, const float* src, int64_t n) {
    using T = typename Storage<D>::T;
    T* dst = static_cast<T*>(dst_ptr);
    const int64_t groups = n / N;
    const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t g = first; g < groups; g += stride) {
        float f[N];
        if constexpr (N == kPack) {
            const float4 lo = reinterpret_cast<const float4*>(src + g * N)[0];
            const float4 hi = reinterpret_cast<const float4*>(src + g * N)[1];
            f[0] = lo.x, f[1] = lo.y, f[2] = lo.z, f[3] = lo.w, f[4] = hi.x, f[5] = hi.y, f[6] = hi.z, f[7] = hi.w;
        } else {
            f[0] = src[g];
        }
        store<D, N>(dst + g * N, f);
    }
    const int64_t tail = groups * N + first;
    if (N > 1 && tail < n) {
        const float f[1] = {src[tail]};
        store<D, 1>(dst + tail, f);
    }
}

template <DType D, int N>
__global__ void __launch_bounds__(kFlatThreads) storage_to_f32_kernel(float* dst, const void* src_ptr, int64_t n) {
    using T = typename Storage<D>::T;
    const T* src = static_cast<const T*>(src_ptr);
    const int64_t groups = n / N;
    const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t g = first; g < groups; g += stride) {
        float f[N];
        load<D, N>(src + g * N, f);
        if constexpr (N == kPack) {
            reinterpret_cast<float4*>(dst + g * N)[0] = make_float4(f[0], f[1], f[2], f[3]);
            reinterpret_cast<float4*>(dst + g * N)[1] = make_float4(f[4], f[5], f[6], f[7]);
        } else {
            dst[g] = f[0];
        }
    }
    const int64_t tail = groups * N + first;
    if (N > 1 && tail < n) {
        float f[1];
        load<D, 1>(src + tail, f);
        dst[tail] = f[0];
    }
}

template <DType D>
void launch_f32_to_storage(void* dst, const float* src, int64_t n, cudaStream_t stream) {
    if (aligned16(dst) && aligned16(src))
        f32_to_storage_kernel<D, kPack><<<flat_grid(n / kPack), kFlatThreads, 0, stream>>>(dst, src, n);
    else f32_to_storage_kernel<D, 1><<<flat_grid(n), kFlatThreads, 0, stream>>>(dst, src, n);
    check_launch("f32_to_storage_kernel");
}

template <DType D>
void launch_storage_to_f32(float* dst, const void* src, int64_t n, cudaStream_t stream) {
    if (aligned16(dst) && aligned16(src))
        storage_to_f32_kernel<D, kPack><<<flat_grid(n / kPack), kFlatThreads, 0, stream>>>(dst, src, n);
    else storage_to_f32_kernel<D, 1><<<flat_grid(n), kFlatThreads, 0, stream>>>(dst, src, n);
    check_launch("storage_to_f32_kernel");
}

}  // namespace

void embedding(DType dtype, const EmbeddingParams& p, cudaStream_t stream) {
    require(p.rows >= 0 && p.dim > 0, EXG_ERR_INVALID_ARGUMENT, "embedding: bad shape ", p.rows, " x ", p.dim);
    require_grid_rows(p.rows, "embedding");
    if (p.rows == 0) return;
    if (dtype == DType::F16) launch_embedding<DType::F16>(p, stream);
    else launch_embedding<DType::BF16>(p, stream);
}

void add(DType dtype, void* x, const void* y, int64_t n, cudaStream_t stream) {
    require(n >= 0, EXG_ERR_INVALID_ARGUMENT, "add: negative length ", n);
    if (n == 0) return;
    if (dtype == DType::F16) launch_add<DType::F16>(x, y, n, stream);
    else launch_add<DType::BF16>(x, y, n, stream);
}

void gather_rows(void* dst, const void* src, const int32_t* rows, int64_t count, int64_t row_bytes,
                 cudaStream_t stream) {
    require(count >= 0 && row_bytes >= 0, EXG_ERR_INVALID_ARGUMENT, "gather_rows: bad shape ", count, " rows of ",
            row_bytes, " bytes");
    require_grid_rows(count, "gather_rows");
    if (count == 0 || row_bytes == 0) return;
    const auto aligned = [&](uintptr_t a) {
        return row_bytes % static_cast<int64_t>(a) == 0 && reinterpret_cast<uintptr_t>(dst) % a == 0 &&
               reinterpret_cast<uintptr_t>(src) % a == 0;
    };
    if (aligned(16)) launch_gather<uint4>(dst, src, rows, count, row_bytes, stream);
    else if (aligned(2)) launch_gather<uint16_t>(dst, src, rows, count, row_bytes, stream);
    else launch_gather<uint8_t>(dst, src, rows, count, row_bytes, stream);
}

void f32_to_storage(DType dtype, void* dst, const float* src, int64_t n, cudaStream_t stream) {
    require(n >= 0, EXG_ERR_INVALID_ARGUMENT, "f32_to_storage: negative length ", n);
    if (n == 0) return;
    if (dtype == DType::F16) launch_f32_to_storage<DType::F16>(dst, src, n, stream);
    else launch_f32_to_storage<DType::BF16>(dst, src, n, stream);
}

void storage_to_f32(DType dtype, float* dst, const void* src, int64_t n, cudaStream_t stream) {
    require(n >= 0, EXG_ERR_INVALID_ARGUMENT, "storage_to_f32: negative length ", n);
    if (n == 0) return;
    if (dtype == DType::F16) launch_storage_to_f32<DType::F16>(dst, src, n, stream);
    else launch_storage_to_f32<DType::BF16>(dst, src, n, stream);
}

}  // namespace exg::cuda
