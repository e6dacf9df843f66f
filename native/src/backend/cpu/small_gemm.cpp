#include "backend/cpu/small_gemm.h"

#include <cstring>

namespace exg {
namespace {

// 16 floats: one AVX-512 register, two AVX2 registers, four SSE registers; GCC lowers the
// arithmetic to whatever the clone below targets.
typedef float v16 __attribute__((vector_size(64)));

// Unaligned 16-float load, written as a macro: a helper function passing vectors by value would
// have a different calling convention in each clone below.
#define EXG_LOAD16(dst, src) std::memcpy(&(dst), (src), sizeof(v16))

// Two weight rows x M activation rows per pass: 2M accumulators stay in registers (16 for M = 8).
// Weight rows stream front to back (blocking K to keep the activations in L1 measured slower: it
// breaks the hardware prefetcher's linear streams).
template <int M>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2,fma", "default")))
#endif
void kernel(int64_t n, int64_t k, const float* a, int64_t lda, const float* w, int64_t ldw, float* out, int64_t ldo) {
    const int64_t k16 = k / 16 * 16;
    int64_t c = 0;
    for (; c + 2 <= n; c += 2) {
        const float* w0 = w + c * ldw;
        const float* w1 = w0 + ldw;
        v16 acc0[M], acc1[M];
        for (int r = 0; r < M; ++r) acc0[r] = acc1[r] = v16{};
        for (int64_t i = 0; i < k16; i += 16) {
            v16 x0, x1;
            EXG_LOAD16(x0, w0 + i);
            EXG_LOAD16(x1, w1 + i);
            for (int r = 0; r < M; ++r) {
                v16 y;
                EXG_LOAD16(y, a + r * lda + i);
                acc0[r] += x0 * y;
                acc1[r] += x1 * y;
            }
        }
        for (int r = 0; r < M; ++r) {
            float s0 = 0.0f, s1 = 0.0f;
            for (int j = 0; j < 16; ++j) {
                s0 += acc0[r][j];
                s1 += acc1[r][j];
            }
            for (int64_t i = k16; i < k; ++i) {
                s0 += w0[i] * a[r * lda + i];
                s1 += w1[i] * a[r * lda + i];
            }
            out[r * ldo + c] = s0;
            out[r * ldo + c + 1] = s1;
        }
    }
    for (; c < n; ++c) {  // an odd last row
        const float* w0 = w + c * ldw;
        for (int r = 0; r < M; ++r) {
            float s = 0.0f;
            for (int64_t i = 0; i < k; ++i) s += w0[i] * a[r * lda + i];
            out[r * ldo + c] = s;
        }
    }
}

}  // namespace

void small_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* w, int64_t ldw, float* out,
                int64_t ldo) {
    switch (m) {
        case 1: return kernel<1>(n, k, a, lda, w, ldw, out, ldo);
        case 2: return kernel<2>(n, k, a, lda, w, ldw, out, ldo);
        case 3: return kernel<3>(n, k, a, lda, w, ldw, out, ldo);
        case 4: return kernel<4>(n, k, a, lda, w, ldw, out, ldo);
        case 5: return kernel<5>(n, k, a, lda, w, ldw, out, ldo);
        case 6: return kernel<6>(n, k, a, lda, w, ldw, out, ldo);
        case 7: return kernel<7>(n, k, a, lda, w, ldw, out, ldo);
        default: return kernel<8>(n, k, a, lda, w, ldw, out, ldo);
    }
}

}  // namespace exg
