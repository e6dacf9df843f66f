// Host collectives: ranks as threads; sums checked against a hand-computed total; failures must not hang.
#include "comm/communicator.h"
#include "core/error.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace {

TEST(HostComm, AllReduceSumsEveryRank) {
    for (int world : {1, 2, 3, 4}) {
        auto comms = exg::create_host_group(world, 10000);
        const size_t count = 1001;  // not divisible by the world size: uneven slices
        std::vector<std::vector<float>> data(static_cast<size_t>(world));
        std::vector<std::thread> threads;
        for (int r = 0; r < world; ++r) {
            data[static_cast<size_t>(r)].resize(count);
            for (size_t i = 0; i < count; ++i) data[static_cast<size_t>(r)][i] = static_cast<float>(r * 1000 + i);
            threads.emplace_back([&, r] {
                for (int repeat = 0; repeat < 3; ++repeat)  // buffers are reused across calls
                    comms[static_cast<size_t>(r)]->all_reduce_sum(data[static_cast<size_t>(r)].data(), count, EXG_DTYPE_F32);
            });
        }
        for (auto& t : threads) t.join();
        for (int r = 0; r < world; ++r) {
            for (size_t i = 0; i < count; i += 97) {
                // After three reductions each element is world^2 * (sum over ranks of initial values) / world...
                double initial_sum = 0;
                for (int q = 0; q < world; ++q) initial_sum += q * 1000 + static_cast<double>(i);
                const double expected = initial_sum * world * world;  // sum, then world*sum, then world^2*sum
                ASSERT_NEAR(data[static_cast<size_t>(r)][i], expected, expected * 1e-6) << "world " << world;
            }
        }
    }
}

TEST(HostComm, MissingRankTimesOutInsteadOfHanging) {
    auto comms = exg::create_host_group(2, 200);
    std::vector<float> x(4, 1.0f);
    try {
        comms[0]->all_reduce_sum(x.data(), x.size(), EXG_DTYPE_F32);
        FAIL() << "expected a timeout";
    } catch (const exg::Error& e) {
        EXPECT_EQ(e.status(), EXG_ERR_COMM);
        EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos);
    }
}

TEST(HostComm, AbortWakesWaitingRanks) {
    auto comms = exg::create_host_group(2, 60000);
    std::vector<float> x(4, 1.0f);
    std::thread aborter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        comms[1]->abort();
    });
    EXPECT_THROW(comms[0]->all_reduce_sum(x.data(), x.size(), EXG_DTYPE_F32), exg::Error);
    aborter.join();
}

TEST(HostComm, MismatchedCountsFail) {
    auto comms = exg::create_host_group(2, 10000);
    std::vector<float> a(4), b(5);
    exg_status s0 = EXG_OK, s1 = EXG_OK;
    std::thread t([&] {
        try { comms[1]->all_reduce_sum(b.data(), b.size(), EXG_DTYPE_F32); } catch (const exg::Error& e) { s1 = e.status(); }
    });
    try { comms[0]->all_reduce_sum(a.data(), a.size(), EXG_DTYPE_F32); } catch (const exg::Error& e) { s0 = e.status(); }
    t.join();
    EXPECT_EQ(s0, EXG_ERR_COMM);
    EXPECT_EQ(s1, EXG_ERR_COMM);
}

}  // namespace
