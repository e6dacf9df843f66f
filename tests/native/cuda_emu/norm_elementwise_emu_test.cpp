// norm.cu's, elementwise.cu's and bias_activation.cu's kernels, run under the CPU emulation, against RefBackend (F32 storage,
// double arithmetic) on the decoded 16-bit inputs, and against core/dtype.h for the conversions. Both
// dtypes; the 16-byte packed kernels and the scalar ones (odd lengths, or a base one element off
// alignment); rows wider than one pass of the block; pack tails of the flat kernels.
//
// Tolerances: a kernel rounds its F32 result once to 16 bits (half a 16-bit ulp), and its F32 statistics
// differ from the reference's double ones by far less; so |got - ref| <= ulp16 * |ref| + a small absolute
// term for values near 0.
#include "emu_test_util.h"

#include "backend/cuda/elementwise.h"
#include "backend/ref/ref_backend.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace exg {
namespace {

using emu_test::Buffer;
using emu_test::dec;
using emu_test::enc;

const cuda::DType kDtypes[] = {cuda::DType::F16, cuda::DType::BF16};

std::vector<float> decode(cuda::DType t, const uint16_t* p, size_t n) {
    std::vector<float> f(n);
    for (size_t i = 0; i < n; ++i) f[i] = dec(t, p[i]);
    return f;
}

// Fills p[0..n) with 16-bit normals of the given mean and spread.
void fill(cuda::DType t, uint16_t* p, size_t n, std::mt19937& gen, float mean, float spread) {
    std::normal_distribution<float> nd(mean, spread);
    for (size_t i = 0; i < n; ++i) p[i] = enc(t, nd(gen));
}

// Counts the elements of got (16-bit) farther from ref than one rounding allows; reports the first few.
int count_bad(cuda::DType t, const uint16_t* got, const std::vector<float>& ref, double abs_tol, const std::string& what) {
    int bad = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double g = dec(t, got[i]), r = ref[i];
        if (!(std::fabs(g - r) <= emu_test::ulp16(t) * std::fabs(r) + abs_tol) && ++bad <= 5)
            ADD_FAILURE() << what << " element " << i << ": got " << g << ", reference " << r;
    }
    return bad;
}

struct NormCase {
    int64_t rows, dim;
    bool rms, residual, gamma, beta, misaligned, in_place;
};

void check_norm(cuda::DType t, const NormCase& c) {
    SCOPED_TRACE(testing::Message() << emu_test::name(t) << (c.rms ? " RMSNorm" : " LayerNorm") << " rows " << c.rows
                                    << " dim " << c.dim << (c.residual ? " +residual" : "") << (c.gamma ? " gamma" : "")
                                    << (c.beta ? " beta" : "") << (c.misaligned ? " misaligned" : "")
                                    << (c.in_place ? " in place" : ""));
    std::mt19937 gen(static_cast<unsigned>(c.dim * 31 + c.rows));
    const size_t n = static_cast<size_t>(c.rows * c.dim), off = c.misaligned ? 1 : 0;
    Buffer<uint16_t> x(n + 1), residual(n + 1), gamma(static_cast<size_t>(c.dim) + 1), beta(gamma.size), out(n + 1);
    fill(t, x.get() + off, n, gen, c.rms ? 0.0f : 3.0f, 2.0f);  // a large mean: the two-pass variance matters
    fill(t, residual.get() + off, n, gen, 0.5f, 1.0f);
    fill(t, gamma.get() + off, static_cast<size_t>(c.dim), gen, 1.0f, 0.3f);
    fill(t, beta.get() + off, static_cast<size_t>(c.dim), gen, 0.0f, 0.5f);

    // Reference: RefBackend in F32 storage. With the residual, the kernel stores x + residual rounded to
    // 16 bits and normalises that stored sum (elementwise.h), so the reference normalises the rounded sum.
    std::vector<float> rx = decode(t, x.get() + off, n), rres = decode(t, residual.get() + off, n);
    std::vector<float> rgamma = decode(t, gamma.get() + off, static_cast<size_t>(c.dim));
    std::vector<float> rbeta = decode(t, beta.get() + off, static_cast<size_t>(c.dim));
    RefBackend ref;
    std::vector<float> stored_sum;
    if (c.residual) {
        for (size_t i = 0; i < n; ++i) rx[i] = emu_test::round16(t, rx[i] + rres[i]);
        stored_sum = rx;
    }
    std::vector<float> rout(n);
    const float eps = 1e-5f;
    ref.layer_norm({c.rows, c.dim, rx.data(), nullptr, c.gamma ? rgamma.data() : nullptr, c.beta ? rbeta.data() : nullptr,
                    rout.data(), eps, c.rms ? 1 : 0});

    uint16_t* xp = x.get() + off;
    uint16_t* op = c.in_place ? xp : out.get() + off;
    cuda::layer_norm(t, {c.rows, c.dim, xp, c.residual ? residual.get() + off : nullptr, c.gamma ? gamma.get() + off : nullptr,
                         c.beta ? beta.get() + off : nullptr, op, eps, c.rms ? 1 : 0},
                     nullptr);
    if (c.residual) {
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(dec(t, xp[i]), stored_sum[i]) << "stored x + residual, element " << i;
    }
    EXPECT_EQ(count_bad(t, op, rout, 2e-3, "out"), 0);
}

TEST(NormEmu, LayerNormAndRmsNorm) {
    for (cuda::DType t : kDtypes)
        for (bool rms : {false, true}) {
            // Packed (dim % 8 == 0, aligned): one pass, and 520 packs > 512 threads (a second pass).
            check_norm(t, {3, 64, rms, false, true, !rms, false, false});
            check_norm(t, {2, 4160, rms, true, true, !rms, false, false});
            // Scalar: odd dim, and an aligned-length row one element off 16-byte alignment.
            check_norm(t, {3, 67, rms, true, true, !rms, false, false});
            check_norm(t, {2, 128, rms, true, true, !rms, true, false});
            // No affine parameters; out aliasing x (allowed without a residual).
            check_norm(t, {2, 96, rms, false, false, false, false, true});
            check_norm(t, {2, 600, rms, true, false, false, false, false});
        }
}

// The statistics are those of the STORED sum (elementwise.h): x = 1 plus a residual of 3/8 of a 16-bit ulp
// stores 1 exactly, so RMSNorm gives exactly 1; normalising the unrounded F32 sum would give 1 - 3/8 ulp,
// which rounds to the 16-bit value below 1.
TEST(NormEmu, NormalisesTheStoredSum) {
    for (cuda::DType t : kDtypes) {
        SCOPED_TRACE(emu_test::name(t));
        const int64_t dim = 64;
        Buffer<uint16_t> x(dim), residual(dim), out(dim);
        for (int64_t i = 0; i < dim; ++i) {
            x[static_cast<size_t>(i)] = enc(t, 1.0f);
            residual[static_cast<size_t>(i)] = enc(t, static_cast<float>(0.375 * emu_test::ulp16(t)));
        }
        cuda::layer_norm(t, {1, dim, x.get(), residual.get(), nullptr, nullptr, out.get(), 0.0f, 1}, nullptr);
        for (int64_t i = 0; i < dim; ++i) {
            ASSERT_EQ(dec(t, x[static_cast<size_t>(i)]), 1.0f) << "stored sum, element " << i;
            ASSERT_EQ(dec(t, out[static_cast<size_t>(i)]), 1.0f) << "out, element " << i;
        }
    }
}

struct EmbeddingCase {
    int64_t rows, dim;
    bool positions, accumulate, misaligned;
};

void check_embedding(cuda::DType t, const EmbeddingCase& c) {
    SCOPED_TRACE(testing::Message() << emu_test::name(t) << " embedding rows " << c.rows << " dim " << c.dim
                                    << (c.positions ? " +positions" : "") << (c.accumulate ? " accumulate" : "")
                                    << (c.misaligned ? " misaligned" : ""));
    std::mt19937 gen(static_cast<unsigned>(c.dim * 7 + c.rows));
    const int64_t vocab = 11, max_pos = 9;
    const size_t off = c.misaligned ? 1 : 0, n = static_cast<size_t>(c.rows * c.dim);
    Buffer<uint16_t> table(static_cast<size_t>(vocab * c.dim) + 1), pos(static_cast<size_t>(max_pos * c.dim) + 1), out(n + 1);
    fill(t, table.get() + off, table.size - 1, gen, 0.0f, 1.0f);
    fill(t, pos.get() + off, pos.size - 1, gen, 0.0f, 0.5f);
    fill(t, out.get() + off, n, gen, 0.0f, 1.0f);
    std::vector<int32_t> ids(static_cast<size_t>(c.rows)), pos_ids(ids.size());
    for (int64_t r = 0; r < c.rows; ++r) {
        ids[static_cast<size_t>(r)] = static_cast<int32_t>((r * 7 + 3) % (vocab - 2));  // + id_offset 2 stays in range
        pos_ids[static_cast<size_t>(r)] = static_cast<int32_t>((c.rows - r) % (max_pos - 1));
    }
    std::vector<float> rtable = decode(t, table.get() + off, table.size - 1), rpos = decode(t, pos.get() + off, pos.size - 1);
    std::vector<float> rout = decode(t, out.get() + off, n);
    RefBackend ref;
    ref.embedding({c.rows, c.dim, ids.data(), 2, rtable.data(), pos_ids.data(), 1, c.positions ? rpos.data() : nullptr,
                   rout.data(), c.accumulate ? 1 : 0});
    cuda::embedding(t, {c.rows, c.dim, ids.data(), 2, table.get() + off, pos_ids.data(), 1,
                        c.positions ? pos.get() + off : nullptr, out.get() + off, c.accumulate ? 1 : 0},
                    nullptr);
    // One F32 sum of up to three 16-bit values, rounded once.
    EXPECT_EQ(count_bad(t, out.get() + off, rout, 1e-6, "embedding"), 0);
}

TEST(ElementwiseEmu, EmbeddingWithPositionsAndAccumulate) {
    for (cuda::DType t : kDtypes)
        for (bool positions : {false, true})
            for (bool accumulate : {false, true}) {
                check_embedding(t, {5, 64, positions, accumulate, false});     // packed
                check_embedding(t, {3, 2056, positions, accumulate, false});   // 257 packs > 256 threads
                check_embedding(t, {4, 13, positions, accumulate, false});     // scalar: odd dim
                check_embedding(t, {2, 40, positions, accumulate, true});      // scalar: misaligned
            }
}

TEST(ElementwiseEmu, Add) {
    for (cuda::DType t : kDtypes)
        for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{2053}, int64_t{70001}})
            for (bool misaligned : {false, true}) {
                SCOPED_TRACE(testing::Message() << emu_test::name(t) << " add n " << n << (misaligned ? " misaligned" : ""));
                std::mt19937 gen(static_cast<unsigned>(n));
                const size_t off = misaligned ? 1 : 0, len = static_cast<size_t>(n);
                Buffer<uint16_t> x(len + 2), y(len + 2);
                fill(t, x.get(), len + 2, gen, 0.0f, 1.0f);
                fill(t, y.get(), len + 2, gen, 0.0f, 1.0f);
                const uint16_t after = x[off + len];
                std::vector<float> rx = decode(t, x.get() + off, len), ry = decode(t, y.get() + off, len);
                RefBackend ref;
                ref.add(rx.data(), ry.data(), n);
                cuda::add(t, x.get() + off, y.get() + off, n, nullptr);
                EXPECT_EQ(count_bad(t, x.get() + off, rx, 1e-6, "add"), 0);
                EXPECT_EQ(x[off + len], after) << "wrote past n";
            }
}

TEST(ElementwiseEmu, GatherRows) {
    // Row lengths picking each access word: 16-byte (48 B), 2-byte (6 B) and 1-byte (7 B) rows.
    for (int64_t row_bytes : {int64_t{48}, int64_t{4112}, int64_t{6}, int64_t{7}})
        for (bool misaligned : {false, true}) {
            SCOPED_TRACE(testing::Message() << "gather_rows of " << row_bytes << " bytes" << (misaligned ? ", misaligned" : ""));
            const int64_t src_rows = 9, count = 6;
            const size_t off = misaligned ? 2 : 0;
            Buffer<uint8_t> src(static_cast<size_t>(src_rows * row_bytes) + 16), dst(static_cast<size_t>(count * row_bytes) + 16);
            for (size_t i = 0; i < src.size; ++i) src[i] = static_cast<uint8_t>(i * 37 + 11);
            for (size_t i = 0; i < dst.size; ++i) dst[i] = 0xA5;
            const std::vector<int32_t> rows = {8, 0, 3, 3, 7, 1};
            cuda::gather_rows(dst.get() + off, src.get() + off, rows.data(), count, row_bytes, nullptr);
            for (int64_t i = 0; i < count; ++i)
                for (int64_t b = 0; b < row_bytes; ++b)
                    ASSERT_EQ(dst[off + static_cast<size_t>(i * row_bytes + b)], src[off + static_cast<size_t>(rows[i] * row_bytes + b)])
                        << "row " << i << " byte " << b;
            for (size_t i = off + static_cast<size_t>(count * row_bytes); i < dst.size; ++i) ASSERT_EQ(dst[i], 0xA5) << "past the rows";
            for (size_t i = 0; i < off; ++i) ASSERT_EQ(dst[i], 0xA5) << "before the rows";
        }
}

TEST(ElementwiseEmu, Conversions) {
    // Specials (signed zeros, infinities, NaN, f16 overflow and subnormals, exact ties) and random values.
    std::vector<float> values = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65519.0f, 65520.0f, 1e-7f, -3e-5f, 6e-8f, 1.0f + 0x1p-8f,
                                 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 1e30f, -1e-30f};
    std::mt19937 gen(3);
    std::normal_distribution<float> nd(0.0f, 100.0f);
    while (values.size() < 1029) values.push_back(nd(gen));  // 128 packs + a tail of 5
    for (cuda::DType t : kDtypes)
        for (bool misaligned : {false, true}) {
            SCOPED_TRACE(testing::Message() << emu_test::name(t) << (misaligned ? " misaligned" : ""));
            const size_t n = values.size(), off = misaligned ? 1 : 0;
            Buffer<float> src(n + 1), back(n + 2);
            Buffer<uint16_t> half(n + 2);
            for (size_t i = 0; i < n; ++i) src[off + i] = values[i];
            half[off + n] = 0x1234;
            back[off + n] = 42.0f;
            cuda::f32_to_storage(t, half.get() + off, src.get() + off, static_cast<int64_t>(n), nullptr);
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(half[off + i], enc(t, values[i])) << "to 16 bits, element " << i;
            cuda::storage_to_f32(t, back.get() + off, half.get() + off, static_cast<int64_t>(n), nullptr);
            for (size_t i = 0; i < n; ++i) {
                const float want = dec(t, half[off + i]);
                if (std::isnan(want)) ASSERT_TRUE(std::isnan(back[off + i])) << "element " << i;
                else ASSERT_EQ(back[off + i], want) << "to f32, element " << i;
            }
            EXPECT_EQ(half[off + n], 0x1234) << "wrote past n";
            EXPECT_EQ(back[off + n], 42.0f) << "wrote past n";
        }
}

// bias_activation.cu: x = act(x + bias) per row, against RefBackend's activations (their defining formulas in
// double: ReLU; GELU with erf and with the tanh approximation; SiLU). Rows padded past cols (ld > cols) must
// keep their padding; the F32-output form takes the same bias in the storage dtype.
TEST(BiasActivationEmu, EveryActivationPackedAndScalar) {
    for (cuda::DType t : kDtypes)
        for (int32_t act : {-1, int32_t{EXG_ACT_RELU}, int32_t{EXG_ACT_GELU}, int32_t{EXG_ACT_GELU_TANH}, int32_t{EXG_ACT_SILU}})
            for (int64_t cols : {int64_t{16}, int64_t{37}})  // a multiple of the 8-element pack, and not
                for (bool with_bias : {true, false}) {
                    if (act < 0 && !with_bias) continue;  // nothing to do: the op returns at once
                    const int64_t rows = 5, ld = cols + 8;
                    SCOPED_TRACE(testing::Message() << emu_test::name(t) << " act " << act << " cols " << cols
                                                    << (with_bias ? " bias" : ""));
                    std::mt19937 gen(static_cast<unsigned>(cols * 7 + act + 2));
                    Buffer<uint16_t> x(static_cast<size_t>(rows * ld)), bias(static_cast<size_t>(cols));
                    fill(t, x.get(), x.size, gen, 0.0f, 2.0f);
                    fill(t, bias.get(), bias.size, gen, 0.0f, 1.0f);
                    std::vector<float> expected(static_cast<size_t>(rows * cols));
                    std::vector<uint16_t> padding;
                    for (int64_t r = 0; r < rows; ++r) {
                        for (int64_t c = 0; c < cols; ++c)
                            expected[static_cast<size_t>(r * cols + c)] = static_cast<float>(ref_activate(
                                static_cast<double>(dec(t, x[static_cast<size_t>(r * ld + c)])) +
                                    (with_bias ? dec(t, bias[static_cast<size_t>(c)]) : 0.0),
                                act));
                        for (int64_t c = cols; c < ld; ++c) padding.push_back(x[static_cast<size_t>(r * ld + c)]);
                    }
                    // F32 output: the same inputs decoded, the same 16-bit bias.
                    std::vector<float> x32(x.size);
                    for (size_t i = 0; i < x.size; ++i) x32[i] = dec(t, x[i]);
                    cuda::bias_activation(t, x.get(), rows, cols, ld, with_bias ? bias.get() : nullptr, act, nullptr);
                    cuda::bias_activation_f32(t, x32.data(), rows, cols, ld, with_bias ? bias.get() : nullptr, act, nullptr);
                    std::vector<uint16_t> got(static_cast<size_t>(rows * cols)), kept;
                    for (int64_t r = 0; r < rows; ++r) {
                        for (int64_t c = 0; c < cols; ++c) {
                            got[static_cast<size_t>(r * cols + c)] = x[static_cast<size_t>(r * ld + c)];
                            const double e = expected[static_cast<size_t>(r * cols + c)];
                            EXPECT_NEAR(x32[static_cast<size_t>(r * ld + c)], e, 1e-5 * (1 + std::fabs(e)))
                                << "f32 output, row " << r << " col " << c;
                        }
                        for (int64_t c = cols; c < ld; ++c) kept.push_back(x[static_cast<size_t>(r * ld + c)]);
                    }
                    EXPECT_EQ(count_bad(t, got.data(), expected, 1e-6, "bias_activation"), 0);
                    EXPECT_EQ(kept, padding) << "wrote into the row padding";
                }
}

}  // namespace
}  // namespace exg
