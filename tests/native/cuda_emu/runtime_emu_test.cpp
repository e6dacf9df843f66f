// The emulator itself (include/cuda_runtime.h, emu_runtime.cpp): warp shuffles, ballot and __syncthreads
// give CUDA's results, and what CUDA leaves undefined (a barrier after some threads exited, divergent
// barriers, a shuffle with an exited lane) aborts instead of passing silently.
#include <cuda_runtime.h>

#include <gtest/gtest.h>

#include <vector>

#ifndef EXG_CUDA_EMU
#error "tests/native/cuda_emu must compile against its emulated cuda_runtime.h, not the real one"
#endif

namespace {

// out[t] = (block sum of t) * 1000 + xor-shuffle partner + 100 * popc(ballot of odd lanes) per thread.
__global__ void primitives_kernel(int* out) {
    __shared__ int partial[32];
    const int t = static_cast<int>(threadIdx.x);
    int v = t;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (t % 32 == 0) partial[t / 32] = v;
    __syncthreads();
    int total = 0;
    for (unsigned w = 0; w < blockDim.x / 32; ++w) total += partial[w];
    const int partner = __shfl_xor_sync(0xffffffffu, t, 1);
    const unsigned odd = __ballot_sync(0xffffffffu, (t & 1) != 0);
    const int up = __shfl_up_sync(0xffffffffu, t, 3);  // lanes 0..2 keep their own value
    out[blockIdx.x * blockDim.x + t] = total * 1000 + partner + 100 * __popc(odd) + (up == t ? 0 : 1) * 100000000;
}

TEST(EmuRuntime, ShufflesBallotAndBarriers) {
    const int blocks = 2, threads = 96;
    std::vector<int> out(blocks * threads, -1);
    emu::launch(&primitives_kernel, blocks, threads, 0, nullptr, out.data());
    const int total = threads * (threads - 1) / 2;
    for (int b = 0; b < blocks; ++b)
        for (int t = 0; t < threads; ++t) {
            const bool shifted = t % 32 >= 3;
            EXPECT_EQ(out[b * threads + t], total * 1000 + (t ^ 1) + 100 * 16 + (shifted ? 100000000 : 0)) << "thread " << t;
        }
}

__global__ void barrier_after_exit_kernel() {
    if (threadIdx.x == 5) return;
    __syncthreads();
}

// Half of every warp waits at __syncthreads, the other half in a shuffle that needs the whole warp.
__global__ void divergent_barrier_kernel(int* sink) {
    if (threadIdx.x % 32 < 16) {
        __syncthreads();
    } else {
        *sink += __shfl_xor_sync(0xffffffffu, 1, 1);
        __syncthreads();
    }
}

__global__ void shuffle_after_exit_kernel(int* sink) {
    if (threadIdx.x == 3) return;
    *sink += __shfl_xor_sync(0xffffffffu, 1, 1);
}

TEST(EmuRuntimeDeathTest, ReportsWhatCudaLeavesUndefined) {
    testing::FLAGS_gtest_death_test_style = "threadsafe";
    int sink = 0;
    EXPECT_DEATH(emu::launch(&barrier_after_exit_kernel, 1, 64, 0, nullptr), "exited");
    EXPECT_DEATH(emu::launch(&divergent_barrier_kernel, 1, 64, 0, nullptr, &sink), "deadlock");
    EXPECT_DEATH(emu::launch(&shuffle_after_exit_kernel, 1, 32, 0, nullptr, &sink), "exited");
}

}  // namespace
