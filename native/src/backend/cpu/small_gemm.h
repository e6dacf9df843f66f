// GEMM for decode-sized batches (2..8 rows): out[r, c] = a[r, :] . w[c, :]. Each pair of weight
// rows is streamed from memory once and multiplied into every activation row while in registers,
// so the cost stays one pass over the weights, the bound for such batches. (BLAS packs the weight
// panel first; measured side by side on the 2-core bench machine, 8192 x 2048: 1.45x faster at 4
// rows, 1.25x at 8.)
#pragma once

#include <cstdint>

namespace exg {

constexpr int64_t kSmallGemmMaxRows = 8;

// m in [1, kSmallGemmMaxRows]; no bias or activation (the caller's epilogue adds them).
void small_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* w, int64_t ldw, float* out,
                int64_t ldo);

}  // namespace exg
