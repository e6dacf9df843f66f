// The host-side arithmetic of the cuBLASLt GEMMs (backend/cuda/gemm_layout.h), checked without a GPU: the
// row-major -> column-major mapping is fed to a column-major GEMM written from the BLAS definition and must
// reproduce the engine's row-major out = a * w^T; shape checks, epilogue plans, alignment classes, cache
// keys and the workspace size are checked against the values they are documented to take.
#include "backend/cuda/gemm_layout.h"
#include "error_expect.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace {

using exg::cuda::EpiloguePlan;
using exg::cuda::GemmKey;
using exg::cuda::GemmKeyHash;
using exg::cuda::LtEpilogue;
using exg::cuda::LtMapping;
using exg::cuda::LtMatrix;

// Column-major element (r, c) of a stored matrix.
float at(const std::vector<float>& x, const LtMatrix& m, uint64_t r, uint64_t c) {
    return x[static_cast<size_t>(r + c * static_cast<uint64_t>(m.ld))];
}

// D = op(A) * op(B) as BLAS defines it for column-major storage.
void column_major_gemm(const LtMapping& map, const std::vector<float>& a, const std::vector<float>& b,
                       std::vector<float>& d) {
    for (uint64_t j = 0; j < map.n; ++j) {
        for (uint64_t i = 0; i < map.m; ++i) {
            double acc = 0.0;
            for (uint64_t l = 0; l < map.k; ++l) {
                const float av = map.transa ? at(a, map.a, l, i) : at(a, map.a, i, l);
                const float bv = map.transb ? at(b, map.b, j, l) : at(b, map.b, l, j);
                acc += static_cast<double>(av) * bv;
            }
            d[static_cast<size_t>(i + j * static_cast<uint64_t>(map.d.ld))] = static_cast<float>(acc);
        }
    }
}

// The dimensions cuBLASLt requires of a layout: op(stored) has shape rows x cols, ld covers a column, and the
// last element lies inside the buffer.
void expect_layout(const LtMatrix& stored, bool trans, uint64_t rows, uint64_t cols, size_t buffer_elements) {
    EXPECT_EQ(trans ? stored.cols : stored.rows, rows);
    EXPECT_EQ(trans ? stored.rows : stored.cols, cols);
    EXPECT_GE(static_cast<uint64_t>(stored.ld), stored.rows);
    EXPECT_LT((stored.rows - 1) + (stored.cols - 1) * static_cast<uint64_t>(stored.ld), buffer_elements);
}

TEST(GemmLayout, ColumnMajorMappingReproducesRowMajorProduct) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    struct Shape {
        int64_t m, n, k, lda, ldw, ldo;
    };
    // Dense, padded rows (a view into a wider buffer, as the qkv thirds are), and decode's m = 1.
    for (const Shape& s : {Shape{3, 5, 4, 4, 4, 5}, Shape{4, 3, 6, 9, 7, 11}, Shape{1, 8, 5, 5, 6, 8},
                           Shape{7, 1, 3, 3, 3, 2}}) {
        SCOPED_TRACE(testing::Message() << "m=" << s.m << " n=" << s.n << " k=" << s.k);
        std::vector<float> a(static_cast<size_t>(s.m * s.lda)), w(static_cast<size_t>(s.n * s.ldw));
        for (float& v : a) v = value(rng);
        for (float& v : w) v = value(rng);
        constexpr float kUntouched = 12345.0f;
        std::vector<float> out(static_cast<size_t>(s.m * s.ldo), kUntouched);

        const LtMapping map = exg::cuda::map_row_major_gemm(s.m, s.n, s.k, s.lda, s.ldw, s.ldo);
        expect_layout(map.a, map.transa, map.m, map.k, w.size());  // cuBLASLt's A is the weight
        expect_layout(map.b, map.transb, map.k, map.n, a.size());  // cuBLASLt's B is the activation
        expect_layout(map.d, false, map.m, map.n, out.size());
        EXPECT_EQ(map.d.rows, static_cast<uint64_t>(s.n));  // the epilogue's bias vector is bias[n]
        column_major_gemm(map, w, a, out);

        for (int64_t i = 0; i < s.m; ++i) {
            for (int64_t j = 0; j < s.ldo; ++j) {
                const float got = out[static_cast<size_t>(i * s.ldo + j)];
                if (j >= s.n) {
                    EXPECT_EQ(got, kUntouched) << "padding at row " << i << " col " << j;
                    continue;
                }
                double want = 0.0;
                for (int64_t l = 0; l < s.k; ++l) {
                    want += static_cast<double>(a[static_cast<size_t>(i * s.lda + l)]) *
                            w[static_cast<size_t>(j * s.ldw + l)];
                }
                EXPECT_NEAR(got, want, 1e-5) << "out[" << i << "][" << j << "]";
            }
        }
    }
}

TEST(GemmLayout, MapsOptFfnShapeAsTorchLinearDoes) {
    // OPT-13B fc1 over 8192 tokens: cuBLASLt sees m' = ffn, n' = tokens, k' = hidden, A transposed.
    const LtMapping map = exg::cuda::map_row_major_gemm(8192, 20480, 5120, 5120, 5120, 20480);
    EXPECT_TRUE(map.transa);
    EXPECT_FALSE(map.transb);
    EXPECT_EQ(map.m, 20480u);
    EXPECT_EQ(map.n, 8192u);
    EXPECT_EQ(map.k, 5120u);
    EXPECT_EQ(map.a.rows, 5120u);
    EXPECT_EQ(map.a.cols, 20480u);
    EXPECT_EQ(map.a.ld, 5120);
    EXPECT_EQ(map.b.rows, 5120u);
    EXPECT_EQ(map.b.cols, 8192u);
    EXPECT_EQ(map.d.rows, 20480u);
    EXPECT_EQ(map.d.cols, 8192u);
    EXPECT_EQ(map.d.ld, 20480);
}

void expect_invalid(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldw, int64_t ldo, const char* needle) {
    exg_test::expect_error([&] { exg::cuda::check_gemm_shape(m, n, k, lda, ldw, ldo); }, EXG_ERR_INVALID_ARGUMENT,
                           needle);
}

TEST(GemmLayout, ShapeChecksNameTheBadQuantity) {
    EXPECT_NO_THROW(exg::cuda::check_gemm_shape(0, 4, 4, 4, 4, 4));  // empty batch: nothing to do
    EXPECT_NO_THROW(exg::cuda::check_gemm_shape(2, 4, 3, 9, 3, 4));
    expect_invalid(-1, 4, 4, 4, 4, 4, "m=-1");
    expect_invalid(2, 0, 4, 4, 4, 4, "n=0");
    expect_invalid(2, 4, 0, 4, 4, 4, "k=0");
    expect_invalid(2, 4, 4, 3, 4, 4, "lda=3");
    expect_invalid(2, 4, 4, 4, 3, 4, "ldw=3");
    expect_invalid(2, 4, 4, 4, 4, 3, "ldo=3");
}

TEST(GemmLayout, EpiloguePlans) {
    using exg::cuda::fused_epilogue;
    using exg::cuda::unfused_epilogue;
    // cuBLASLt fuses bias, ReLU and the tanh GELU.
    EXPECT_EQ(fused_epilogue(false, -1, 256), (EpiloguePlan{LtEpilogue::Default, false, -1}));
    EXPECT_EQ(fused_epilogue(true, -1, 256), (EpiloguePlan{LtEpilogue::Bias, false, -1}));
    EXPECT_EQ(fused_epilogue(false, EXG_ACT_RELU, 256), (EpiloguePlan{LtEpilogue::Relu, false, -1}));
    EXPECT_EQ(fused_epilogue(true, EXG_ACT_RELU, 256), (EpiloguePlan{LtEpilogue::ReluBias, false, -1}));
    EXPECT_EQ(fused_epilogue(false, EXG_ACT_GELU_TANH, 256), (EpiloguePlan{LtEpilogue::Gelu, false, -1}));
    EXPECT_EQ(fused_epilogue(true, EXG_ACT_GELU_TANH, 256), (EpiloguePlan{LtEpilogue::GeluBias, false, -1}));
    // The exact GELU and SiLU: bias in the GEMM, activation in the kernel.
    EXPECT_EQ(fused_epilogue(true, EXG_ACT_GELU, 256), (EpiloguePlan{LtEpilogue::Bias, false, EXG_ACT_GELU}));
    EXPECT_EQ(fused_epilogue(false, EXG_ACT_GELU, 256), (EpiloguePlan{LtEpilogue::Default, false, EXG_ACT_GELU}));
    EXPECT_EQ(fused_epilogue(true, EXG_ACT_SILU, 256), (EpiloguePlan{LtEpilogue::Bias, false, EXG_ACT_SILU}));
    EXPECT_EQ(fused_epilogue(false, EXG_ACT_SILU, 256), (EpiloguePlan{LtEpilogue::Default, false, EXG_ACT_SILU}));
    // A bias under 16-byte alignment is never handed to cuBLASLt's epilogue.
    EXPECT_EQ(fused_epilogue(true, EXG_ACT_RELU, 8), (EpiloguePlan{LtEpilogue::Default, true, EXG_ACT_RELU}));
    EXPECT_EQ(fused_epilogue(true, -1, 2), (EpiloguePlan{LtEpilogue::Default, true, -1}));
    EXPECT_EQ(fused_epilogue(true, EXG_ACT_GELU_TANH, 16), (EpiloguePlan{LtEpilogue::GeluBias, false, -1}));
    // The fallback does everything after a plain GEMM.
    EXPECT_EQ(unfused_epilogue(true, EXG_ACT_RELU), (EpiloguePlan{LtEpilogue::Default, true, EXG_ACT_RELU}));
    EXPECT_EQ(unfused_epilogue(false, -1), (EpiloguePlan{LtEpilogue::Default, false, -1}));

    EXPECT_TRUE(exg::cuda::epilogue_reads_bias(LtEpilogue::Bias));
    EXPECT_TRUE(exg::cuda::epilogue_reads_bias(LtEpilogue::ReluBias));
    EXPECT_TRUE(exg::cuda::epilogue_reads_bias(LtEpilogue::GeluBias));
    EXPECT_FALSE(exg::cuda::epilogue_reads_bias(LtEpilogue::Default));
    EXPECT_FALSE(exg::cuda::epilogue_reads_bias(LtEpilogue::Relu));
    EXPECT_FALSE(exg::cuda::epilogue_reads_bias(LtEpilogue::Gelu));

    EXPECT_TRUE(exg::cuda::valid_activation(-1));
    EXPECT_TRUE(exg::cuda::valid_activation(EXG_ACT_SILU));
    EXPECT_FALSE(exg::cuda::valid_activation(-2));
    EXPECT_FALSE(exg::cuda::valid_activation(EXG_ACT_SILU + 1));
}

const void* address(uintptr_t a) { return reinterpret_cast<const void*>(a); }

TEST(GemmLayout, AlignmentClassIsLargestPowerOfTwoUpTo256) {
    using exg::cuda::alignment_class;
    EXPECT_EQ(alignment_class(nullptr), 256u);
    EXPECT_EQ(alignment_class(address(0x7f0000001000)), 256u);  // cudaMalloc-aligned
    EXPECT_EQ(alignment_class(address(0x7f0000001100)), 256u);
    EXPECT_EQ(alignment_class(address(0x7f0000001080)), 128u);
    EXPECT_EQ(alignment_class(address(0x7f0000001010)), 16u);
    EXPECT_EQ(alignment_class(address(0x7f0000001008)), 8u);
    EXPECT_EQ(alignment_class(address(0x7f0000001002)), 2u);  // one bf16 element past an aligned row
    EXPECT_EQ(alignment_class(address(0x7f0000001006)), 2u);
}

TEST(GemmLayout, CacheKeyDistinguishesEveryField) {
    const GemmKey base{2, 0, 64, 20480, 5120, 5120, 5120, 20480, EXG_ACT_RELU, 1, 256, 256, 256, 256};
    std::vector<GemmKey> variants(14, base);
    variants[0].dtype = 1;
    variants[1].out_f32 = 1;
    variants[2].m = 65;
    variants[3].n = 5120;
    variants[4].k = 20480;
    variants[5].lda = 15360;
    variants[6].ldw = 15360;
    variants[7].ldo = 20481;
    variants[8].activation = -1;
    variants[9].has_bias = 0;
    variants[10].align_a = 2;
    variants[11].align_w = 16;
    variants[12].align_out = 8;
    variants[13].align_bias = 2;

    const GemmKeyHash hash;
    GemmKey same = base;
    EXPECT_TRUE(same == base);
    EXPECT_EQ(hash(same), hash(base));
    std::set<size_t> hashes{hash(base)};
    for (size_t i = 0; i < variants.size(); ++i) {
        EXPECT_FALSE(variants[i] == base) << "variant " << i;
        hashes.insert(hash(variants[i]));
    }
    EXPECT_EQ(hashes.size(), variants.size() + 1);  // no collisions among these neighbours
}

TEST(GemmLayout, WorkspaceIs32MiBOnHopper) {
    EXPECT_EQ(exg::cuda::lt_workspace_bytes(8), size_t{4} << 20);
    EXPECT_EQ(exg::cuda::lt_workspace_bytes(9), size_t{32} << 20);
    EXPECT_EQ(exg::cuda::lt_workspace_bytes(10), size_t{32} << 20);
}

TEST(GemmLayout, AutotuneOnlyOnExactlyOne) {
    EXPECT_FALSE(exg::cuda::autotune_requested(nullptr));
    EXPECT_FALSE(exg::cuda::autotune_requested(""));
    EXPECT_FALSE(exg::cuda::autotune_requested("0"));
    EXPECT_FALSE(exg::cuda::autotune_requested("10"));
    EXPECT_TRUE(exg::cuda::autotune_requested("1"));
}

}  // namespace
