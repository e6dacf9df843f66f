// Host checks of the decode attention's split-KV sizing (backend/cuda/decode_split.h), the functions the
// launcher and the kernels of attention_decode.cu call: the splits of every sequence cover its positions
// exactly once, the workspace a caller is told to allocate covers every launch it may make, and the plan
// does what it is for (fills the GPU at small batch, never splits into chunks shorter than kMinChunk).
// It does not run the kernels (that is the op-parity harness's job on a GPU).
#include "backend/cuda/decode_split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace exg::cuda::decode {
namespace {

// Context lengths worth checking up to `max_total`: every length near the tile, chunk and split
// boundaries, plus a sparse sweep in between.
std::vector<int32_t> lengths_up_to(int32_t max_total) {
    std::vector<int32_t> out;
    for (int32_t n = 1; n <= max_total; n += (n < 600 ? 1 : 37)) out.push_back(n);
    for (int32_t m = kTileKeys; m <= max_total + kTileKeys; m += kTileKeys)
        for (int32_t d : {-1, 0, 1})
            if (m + d >= 1 && m + d <= max_total) out.push_back(m + d);
    out.push_back(max_total);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

const int32_t kSmCounts[] = {1, 46, 108, 132};
const int32_t kHeads[] = {1, 8, 12, 40, 64};

TEST(DecodeSplit, SplitsCoverEveryPositionExactlyOnce) {
    for (int32_t sm : kSmCounts)
        for (int32_t heads : kHeads)
            for (int32_t seqs : {1, 2, 3, 7, 64, 256})
                for (int32_t max_total : {1, 63, 255, 256, 257, 511, 1024, 2048, 2049, 4100, 8192}) {
                    const SplitPlan plan = plan_splits(seqs, heads, max_total, sm);
                    ASSERT_GE(plan.splits, 1);
                    for (int32_t n : lengths_up_to(max_total)) {
                        const int32_t count = split_count(plan, n);
                        ASSERT_GE(count, 1);
                        ASSERT_LE(count, plan.splits);
                        // With n <= max_total the cap never binds: every split is a whole chunk but the last.
                        ASSERT_EQ(count, static_cast<int32_t>(ceil_div(n, plan.chunk))) << n;
                        int32_t next = 0;
                        for (int32_t s = 0; s < count; ++s) {
                            const int32_t b = split_begin(plan, s), e = split_end(plan, s, n);
                            ASSERT_EQ(b, next) << "sm " << sm << " heads " << heads << " seqs " << seqs << " n " << n;
                            ASSERT_LT(b, e) << "an empty split";
                            ASSERT_LE(e - b, plan.chunk);
                            next = e;
                        }
                        ASSERT_EQ(next, n) << "positions left out";
                    }
                }
}

TEST(DecodeSplit, LongerThanThePlanTheLastSplitTakesTheRest) {
    // A max_total below the real length must not send blocks past the workspace: the count is capped and
    // the last split still ends at n (the kernel stays in bounds; the result is merely slower).
    const SplitPlan plan = plan_splits(1, 8, 1024, 132);
    ASSERT_GT(plan.splits, 1);
    const int32_t n = 5000;
    EXPECT_EQ(split_count(plan, n), plan.splits);
    EXPECT_EQ(split_end(plan, plan.splits - 1, n), n);
    EXPECT_EQ(split_begin(plan, plan.splits - 1), (plan.splits - 1) * plan.chunk);
}

TEST(DecodeSplit, ChunksAreWholeTilesAndNeverShort) {
    for (int32_t sm : kSmCounts)
        for (int32_t heads : kHeads)
            for (int32_t seqs = 1; seqs <= 300; seqs += 7)
                for (int32_t max_total : lengths_up_to(9000)) {
                    const SplitPlan plan = plan_splits(seqs, heads, max_total, sm);
                    ASSERT_EQ(plan.chunk % kTileKeys, 0);
                    ASSERT_GE(static_cast<int64_t>(plan.chunk) * plan.splits, max_total);
                    if (plan.splits > 1) {
                        ASSERT_GE(plan.chunk, kMinChunk) << seqs << " x " << heads << " @ " << max_total;
                    }
                    // The longest sequence has no empty split.
                    ASSERT_LT(static_cast<int64_t>(plan.chunk) * (plan.splits - 1), std::max(max_total, 1));
                }
}

TEST(DecodeSplit, SmallBatchesFillTheGpuLargeOnesDoNotSplit) {
    for (int32_t sm : kSmCounts)
        for (int32_t heads : kHeads)
            for (int32_t seqs = 1; seqs <= 300; ++seqs) {
                const int64_t units = static_cast<int64_t>(seqs) * heads;
                const int64_t target = static_cast<int64_t>(sm) * kBlocksPerSm;
                const int32_t long_context = 1 << 20;  // long enough that kMinChunk does not limit
                const SplitPlan plan = plan_splits(seqs, heads, long_context, sm);
                if (units >= target) {
                    EXPECT_EQ(plan.splits, 1);
                    EXPECT_EQ(plan_workspace_bytes(plan, seqs, heads, 128), 0u);
                } else {
                    // Rounding the chunk up to whole tiles may cost a few splits (< 64 * splits / context).
                    EXPECT_GE(static_cast<double>(units * plan.splits), 0.95 * static_cast<double>(target))
                        << seqs << " x " << heads << " on " << sm << " SMs";
                    // ... and never more blocks than one split's worth beyond the target.
                    EXPECT_LT(units * (plan.splits - 1), target);
                }
            }
}

TEST(DecodeSplit, ExampleOnAnH100) {
    // 132 SMs, one sequence of 2048 positions, 40 heads: 528 blocks wanted, 14 splits would do, but the
    // 256-key minimum allows 8.
    const SplitPlan plan = plan_splits(1, 40, 2048, 132);
    EXPECT_EQ(plan.splits, 8);
    EXPECT_EQ(plan.chunk, 256);
    EXPECT_EQ(plan_workspace_bytes(plan, 1, 40, 128), size_t{40} * 8 * 130 * 4);
    // The same at 32 sequences x 40 heads = 1280 blocks: no split.
    EXPECT_EQ(plan_splits(32, 40, 8192, 132).splits, 1);
}

TEST(DecodeSplit, WorkspaceCoversEveryLaunchUpToTheSizesItWasAskedFor) {
    // The split count is not monotone in max_total (2048 keys give 8 chunks of 256; 2049 give 7 of 320)
    // nor in the sequence count, so check every smaller launch, not only the largest.
    ASSERT_EQ(plan_splits(1, 1, 2048, 2).splits, 8);
    ASSERT_EQ(plan_splits(1, 1, 2049, 2).splits, 7);
    for (int32_t sm : {1, 46, 132})
        for (int32_t heads : {1, 8, 40})
            for (int32_t head_dim : {64, 80, 96, 128})
                for (int32_t seqs : {1, 2, 5, 16, 100})
                    for (int32_t max_total : {1, 300, 2048, 2049, 5000}) {
                        const size_t bytes = workspace_bytes(seqs, heads, head_dim, max_total, sm);
                        for (int32_t s = 1; s <= seqs; ++s)
                            for (int32_t t : lengths_up_to(max_total)) {
                                const SplitPlan plan = plan_splits(s, heads, t, sm);
                                const size_t need = plan_workspace_bytes(plan, s, heads, head_dim);
                                ASSERT_LE(need, bytes) << s << " seqs x " << heads << " heads @ " << t << " (asked "
                                                       << seqs << " @ " << max_total << ")";
                                // The last partial the kernels touch lies inside what the plan counts.
                                if (plan.splits > 1) {
                                    ASSERT_EQ(partial_index(plan, heads, s - 1, heads - 1, plan.splits - 1) + 1,
                                              partials(plan, s, heads));
                                }
                            }
                    }
}

TEST(DecodeSplit, NoWorkspaceWhenNothingSplits) {
    EXPECT_EQ(workspace_bytes(4, 8, 128, 255, 132), 0u);  // shorter than two minimum chunks
    EXPECT_EQ(workspace_bytes(0, 8, 128, 4096, 132), 0u);
    EXPECT_GT(workspace_bytes(4, 8, 128, 4096, 132), 0u);
}

}  // namespace
}  // namespace exg::cuda::decode
