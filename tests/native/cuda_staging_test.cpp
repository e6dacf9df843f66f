// Host checks of CudaBackend's copy and staging bookkeeping (backend/cuda/staging.h): which host ranges
// count as page-locked (and so take the copy stream), how strided copies and staged arrays are sized, what an
// attention batch's host metadata says about its launch, when a staged batch may be reused, and that the
// F32 conversion chunks cover a tensor exactly once. No CUDA: the device side is the parity harness's job.
#include "backend/cuda/staging.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace exg::cuda {
namespace {

TEST(CudaStaging, PinnedRangesContainOnlyWhatLiesInsideOneBuffer) {
    std::vector<char> host(4096);
    char* a = host.data();         // buffer [a, a + 1000)
    char* b = host.data() + 1000;  // an adjacent buffer [b, b + 500)
    PinnedRanges ranges;
    EXPECT_FALSE(ranges.contains(a, 1));
    ranges.add(a, 1000);
    ranges.add(b, 500);

    EXPECT_TRUE(ranges.contains(a, 1000));
    EXPECT_TRUE(ranges.contains(a + 999, 1));
    EXPECT_TRUE(ranges.contains(a + 10, 990));
    EXPECT_FALSE(ranges.contains(a + 10, 991));  // runs one byte into the next buffer: not inside one
    EXPECT_TRUE(ranges.contains(b, 500));
    EXPECT_FALSE(ranges.contains(b + 1, 500));    // past the end of the last buffer
    EXPECT_FALSE(ranges.contains(b + 500, 1));
    EXPECT_FALSE(ranges.contains(host.data() + 2000, 1));
    EXPECT_FALSE(ranges.contains(a + 1, std::numeric_limits<size_t>::max()));  // no wrap-around

    ranges.remove(a);
    EXPECT_FALSE(ranges.contains(a, 1));
    EXPECT_FALSE(ranges.contains(a + 999, 1));
    EXPECT_TRUE(ranges.contains(b + 100, 400));
    ranges.remove(b);
    EXPECT_FALSE(ranges.contains(b, 1));
}

TEST(CudaStaging, StridedExtentIsTheLastRowsEnd) {
    EXPECT_EQ(strided_extent(256, 100, 1), 100u);
    EXPECT_EQ(strided_extent(256, 100, 3), 2u * 256 + 100);
    EXPECT_EQ(strided_extent(100, 100, 4), 400u);  // dense rows
    EXPECT_EQ(strided_extent(256, 100, 0), 0u);
    EXPECT_EQ(strided_extent(256, 0, 5), 0u);
}

TEST(CudaStaging, StagedArraysStay16ByteAlignedAndDisjoint) {
    size_t at = 0;
    for (size_t bytes : {0u, 4u, 12u, 16u, 17u, 100u, 4096u}) {
        const size_t slot = staging_bytes(bytes);
        EXPECT_EQ(slot % 16, 0u) << bytes;
        EXPECT_GE(slot, bytes);
        EXPECT_LT(slot, bytes + 16);
        at += slot;
        EXPECT_EQ(at % 16, 0u);
    }
}

struct Batch {
    std::vector<int32_t> slot, q_start, len, past;
    AttentionParams params() const {
        AttentionParams p{};
        p.num_seqs = static_cast<int32_t>(slot.size());
        p.slot = slot.data();
        p.q_start = q_start.data();
        p.len = len.data();
        p.past = past.data();
        return p;
    }
};

TEST(CudaStaging, AttentionShapeSizesTheLaunch) {
    const Batch prefill{{0, 3, 1}, {0, 5, 7}, {5, 2, 9}, {0, 100, 4}};
    const AttentionShape s = attention_shape(prefill.params());
    EXPECT_EQ(s.max_len, 9);
    EXPECT_EQ(s.max_total, 102);
    EXPECT_EQ(s.total_tokens, 16);

    const Batch decode{{2, 0}, {0, 1}, {1, 1}, {2047, 10}};
    const AttentionShape d = attention_shape(decode.params());
    EXPECT_EQ(d.max_len, 1);
    EXPECT_EQ(d.max_total, 2048);
    EXPECT_EQ(d.total_tokens, 2);

    const AttentionShape empty = attention_shape(Batch{}.params());
    EXPECT_EQ(empty.max_len, 0);
    EXPECT_EQ(empty.total_tokens, 0);
}

TEST(CudaStaging, AttentionShapeRefusesBadMetadata) {
    const auto status_of = [](const Batch& b) {
        try {
            attention_shape(b.params());
        } catch (const Error& e) {
            return e.status();
        }
        return EXG_OK;
    };
    EXPECT_EQ(status_of(Batch{{0}, {0}, {-1}, {0}}), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(status_of(Batch{{-1}, {0}, {1}, {0}}), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(status_of(Batch{{0}, {-3}, {1}, {0}}), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(status_of(Batch{{0}, {0}, {1}, {-2}}), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(status_of(Batch{{0}, {0}, {2}, {std::numeric_limits<int32_t>::max() - 1}}), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(status_of(Batch{{0}, {0}, {1}, {std::numeric_limits<int32_t>::max() - 1}}), EXG_OK);
}

TEST(CudaStaging, AttentionKeyMatchesOnlyByteIdenticalBatches) {
    const Batch batch{{0, 1, 2}, {0, 1, 2}, {1, 1, 1}, {7, 8, 9}};
    AttentionKey key;
    EXPECT_FALSE(key.matches(batch.params()));
    key.assign(batch.params());
    EXPECT_TRUE(key.matches(batch.params()));
    Batch copy = batch;  // other storage, same bytes: still a match (the layers of one step)
    EXPECT_TRUE(key.matches(copy.params()));

    for (int array = 0; array < 4; ++array) {
        Batch changed = batch;
        std::vector<int32_t>* arrays[4] = {&changed.slot, &changed.q_start, &changed.len, &changed.past};
        (*arrays[array])[2] += 1;
        EXPECT_FALSE(key.matches(changed.params())) << "array " << array;
    }
    const Batch shorter{{0, 1}, {0, 1}, {1, 1}, {7, 8}};
    EXPECT_FALSE(key.matches(shorter.params()));

    key.clear();
    EXPECT_FALSE(key.matches(batch.params()));
    key.assign(shorter.params());
    EXPECT_TRUE(key.matches(shorter.params()));
    EXPECT_FALSE(key.matches(batch.params()));
}

TEST(CudaStaging, ConversionChunksCoverEveryElementOnce) {
    for (int64_t chunk : {1, 8, 1 << 20})
        for (int64_t count : {int64_t{0}, int64_t{1}, chunk - 1, chunk, chunk + 1, 3 * chunk, 5 * chunk + 7,
                              int64_t{3} << 32}) {
            const int64_t chunks = chunk_count(count, chunk);
            if (count < 0 || chunks > 100000) continue;  // the multi-GB count only in 1 Mi chunks
            int64_t covered = 0;
            for (int64_t c = 0; c < chunks; ++c) {
                const int64_t n = chunk_length(count, chunk, c);
                ASSERT_GE(n, 1) << count << " / " << chunk;
                ASSERT_LE(n, chunk);
                covered += n;
            }
            EXPECT_EQ(covered, count) << count << " / " << chunk;
            if (chunks > 0) {
                EXPECT_EQ(chunk_length(count, chunk, chunks - 1), count - (chunks - 1) * chunk);
            }
        }
}

}  // namespace
}  // namespace exg::cuda
