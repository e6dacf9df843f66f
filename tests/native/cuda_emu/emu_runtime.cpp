// The scheduler behind include/cuda_runtime.h: one ucontext fiber per CUDA thread of the running block,
// switched cooperatively on one host thread. A fiber runs until it reaches a barrier (__syncthreads, or
// the rendezvous inside a warp shuffle / ballot) or returns; the scheduler then resumes the next fiber
// whose barrier has been released. Fibers instead of OS threads: a barrier costs two user-space context
// switches per thread rather than futex wake-ups, so 512-thread blocks run fast enough for CI.
#include "cuda_runtime.h"

#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace emu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;  // per fiber; the kernels keep a few hundred bytes of locals
constexpr unsigned kWarpSize = 32;

// Released when `expected` threads have arrived; waiters watch `generation` change.
struct Barrier {
    unsigned expected = 0;
    unsigned arrived = 0;
    uint64_t generation = 0;
};

struct Fiber {
    ucontext_t context;
    unsigned thread = 0;
    bool done = false;
    const Barrier* waiting = nullptr;  // blocked until waiting->generation != wait_generation
    uint64_t wait_generation = 0;
};

struct Scheduler {
    std::vector<std::unique_ptr<char[]>> stacks;  // reused by every block
    std::vector<Fiber> fibers;
    ucontext_t home;
    Fiber* current = nullptr;
    Barrier block;
    std::vector<Barrier> warps;
    std::vector<uint64_t> slots;  // one exchange register per thread
    const std::function<void()>* body = nullptr;
};

Scheduler& sched() {
    static Scheduler s;
    return s;
}

[[noreturn]] void die(const char* what) {
    const Scheduler& s = sched();
    std::fprintf(stderr, "cuda emulation: %s (block %u, thread %u)\n", what, blockIdx.x,
                 s.current != nullptr ? s.current->thread : 0u);
    std::fflush(stderr);
    std::abort();
}

unsigned lanes_in_warp(unsigned warp) {
    const unsigned first = warp * kWarpSize;
    return blockDim.x - first < kWarpSize ? blockDim.x - first : kWarpSize;
}

void wait(Barrier& b) {
    Scheduler& s = sched();
    if (++b.arrived == b.expected) {  // the last arrival releases everyone and keeps running
        b.arrived = 0;
        ++b.generation;
        return;
    }
    Fiber& f = *s.current;
    f.waiting = &b;
    f.wait_generation = b.generation;
    swapcontext(&f.context, &s.home);
}

Barrier& warp_barrier() {
    Scheduler& s = sched();
    const unsigned warp = s.current->thread / kWarpSize;
    Barrier& b = s.warps[warp];
    if (b.expected != lanes_in_warp(warp)) die("warp shuffle/ballot after a lane of the warp exited");
    return b;
}

void fiber_main() {
    Scheduler& s = sched();
    (*s.body)();
    Fiber& f = *s.current;
    f.done = true;
    // Whoever still waits at a barrier would wait for this thread forever on a GPU (or rely on behaviour
    // the CUDA programming guide leaves undefined): report it rather than release the barrier.
    Barrier& warp = s.warps[f.thread / kWarpSize];
    if (s.block.arrived > 0) die("thread exited while others wait at __syncthreads");
    if (warp.arrived > 0) die("lane exited while others of its warp wait in a shuffle/ballot");
    --s.block.expected;
    --warp.expected;
    // Returning resumes `home` through uc_link.
}

void run_block(unsigned threads) {
    Scheduler& s = sched();
    while (s.stacks.size() < threads) s.stacks.push_back(std::make_unique<char[]>(kStackBytes));
    s.fibers.assign(threads, Fiber{});
    s.block = Barrier{threads, 0, 0};
    const unsigned warps = (threads + kWarpSize - 1) / kWarpSize;
    s.warps.assign(warps, Barrier{});
    for (unsigned w = 0; w < warps; ++w) s.warps[w].expected = lanes_in_warp(w);
    s.slots.assign(threads, 0);
    for (unsigned t = 0; t < threads; ++t) {
        Fiber& f = s.fibers[t];
        f.thread = t;
        if (getcontext(&f.context) != 0) die("getcontext failed");
        f.context.uc_stack.ss_sp = s.stacks[t].get();
        f.context.uc_stack.ss_size = kStackBytes;
        f.context.uc_link = &s.home;
        makecontext(&f.context, fiber_main, 0);
    }
    unsigned live = threads;
    while (live > 0) {
        bool progressed = false;
        for (Fiber& f : s.fibers) {
            if (f.done || (f.waiting != nullptr && f.waiting->generation == f.wait_generation)) continue;
            f.waiting = nullptr;
            s.current = &f;
            threadIdx = dim3(f.thread);
            if (swapcontext(&s.home, &f.context) != 0) die("swapcontext failed");
            progressed = true;
            if (f.done) --live;
        }
        if (!progressed) die("deadlock: the block's threads wait at different barriers (divergent __syncthreads?)");
    }
    s.current = nullptr;
}

}  // namespace

void sync_block() {
    Scheduler& s = sched();
    if (s.block.expected != blockDim.x) die("__syncthreads after some threads of the block exited");
    wait(s.block);
}

uint64_t warp_exchange(uint64_t v, int src_lane, bool valid_src) {
    Scheduler& s = sched();
    const unsigned thread = s.current->thread;
    const unsigned warp = thread / kWarpSize;
    Barrier& b = warp_barrier();
    s.slots[thread] = v;
    wait(b);  // every lane has published its value
    uint64_t out = v;
    if (valid_src) {
        if (src_lane < 0 || static_cast<unsigned>(src_lane) >= lanes_in_warp(warp)) die("shuffle from a lane outside the warp");
        out = s.slots[warp * kWarpSize + static_cast<unsigned>(src_lane)];
    }
    wait(b);  // every lane has read before any can publish again
    return out;
}

uint32_t warp_ballot(bool p) {
    Scheduler& s = sched();
    const unsigned thread = s.current->thread;
    const unsigned warp = thread / kWarpSize;
    Barrier& b = warp_barrier();
    s.slots[thread] = p ? 1 : 0;
    wait(b);
    uint32_t bits = 0;
    for (unsigned l = 0; l < lanes_in_warp(warp); ++l) bits |= (s.slots[warp * kWarpSize + l] != 0 ? 1u : 0u) << l;
    wait(b);
    return bits;
}

static long long g_launches = 0;
long long launch_count() { return g_launches; }

void run_grid(dim3 grid, dim3 block, const std::function<void()>& body) {
    Scheduler& s = sched();
    if (s.current != nullptr) die("a launch from device code");
    if (block.y != 1 || block.z != 1) die("only 1-D thread blocks are emulated");
    if (block.x == 0 || block.x > 1024) die("block size outside 1..1024");
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) die("empty grid");
    ++g_launches;
    gridDim = grid;
    blockDim = block;
    s.body = &body;
    for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
            for (unsigned x = 0; x < grid.x; ++x) {
                blockIdx = dim3(x, y, z);
                run_block(block.x);
            }
    s.body = nullptr;
}

}  // namespace emu
