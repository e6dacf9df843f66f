// Token sampling on the device with the CPU sampler's rule (sampling/sampler.cpp), one 512-thread block
// per row of F32 logits; rows are independent. Three kernels, picked per launch as the CPU picks its path:
//
// Greedy: the lowest index among the maxima. Exactly the CPU's sequential "replace when strictly
// greater" scan, NaN included: a NaN never wins, and a NaN at index 0 wins everything (nothing compares
// greater than it), so the result is 0 then.
//
// Plain temperature (no top-k, top_p = 1): the CPU takes the first index i whose cumulative probability
// in index order exceeds u * total, with p_i = exp(float(l_i - max) / T) in double. Here each thread owns
// a contiguous segment of the row: it sums its p_i in double, a block scan gives every segment its
// starting mass, the first segment whose end passes the target is found with a block minimum, and its
// thread walks its segment again with the same arithmetic (so it is certain to find the token there).
//
// Top-k / top-p: the CPU sorts by (logit descending, index ascending), keeps the top k, then the shortest
// prefix whose probability reaches top_p, and walks that prefix to u * kept_total. Nothing here sorts. A
// logit maps to a 32-bit key whose unsigned order is the float order (-0 first made +0, as the CPU's
// comparison ties them), and a set of candidates is always "every key above K, plus the first `ties`
// (by index) of the elements whose key is K" -- a prefix of the CPU's order. Each question is answered by
// a radix descent over the key (3 passes of 11, 11 and 10 bits; per pass a shared-memory histogram of the
// members under the prefix found so far, then one warp finds the bucket where the running total crosses
// the threshold, walking buckets from the largest key down):
//   top-k:  the key of the k-th largest element (histograms of counts);
//   top-p:  where the cumulative probability of the top-k set first reaches top_p (histograms of masses);
//   sample: where it first exceeds u * kept_total, within the kept set (masses again);
// and the final tie rank within one key value is arithmetic (ties share one probability), then the r-th
// element of that key in index order is found with a block-wide ballot scan.
// The masses are fixed-point integers, p * 2^F with F = 63 - bit_length(vocab) (so that a whole row's sum
// stays below 2^63): integer sums are exact and associative, so the histograms of a pass add up exactly to
// the bucket chosen in the pass before, the descent always lands on a member, and the result does not
// depend on the order of the shared-memory atomics (it is deterministic).
//
// Where the result may legitimately differ from the CPU's (documented for the op-parity harness):
//   - plain path: the block sums the probabilities in another order than the CPU's sequential loop, and
//     the device's double exp may differ from the host libm's in the last ulp; a token whose cumulative
//     boundary lies within ~1e-13 (relative) of u * total may differ.
//   - top-k / top-p: each probability is rounded to a multiple of 2^-F of the largest one (2^-45 at a
//     150k vocabulary), and the top-p rule compares the cumulative mass with top_p * total instead of
//     summing p_i / total; a token whose boundary (or the top-p cut) lies within ~vocab * 2^-F (~4e-9 at
//     150k, relative) of u (or top_p) may differ. Probabilities below 2^-F of the largest count as 0.
//     A cut exactly at top_p is such a case by construction: n equal logits with top_p * n an integer
//     keep exactly top_p * n tokens here, while the CPU's running sum of p_i / total may fall an ulp short
//     and keep one more (600 equal logits, top_p 0.5: 300 here, 301 on the CPU).
//   - NaN or +inf logits outside the greedy path are unspecified (the CPU's order is undefined too); -inf
//     is an ordinary logit of probability 0 (a row of only -inf gives the CPU's token: the last it walks).
// Cost: probabilities are computed in double, as the CPU does (full rate on H100/A100; on GPUs with slow
// FP64 the exp dominates). The plain path reads the row twice plus one segment; the ranked path reads it
// once for the max, three times per descent (top-k when k < vocab, top-p when top_p < 1, the draw), and
// once more at most for the tie rank, and takes exp only of elements still inside the descent's prefix.
// The uniform u is drawn by the CPU sampler's own rng_uniform (core/splitmix.h, a host/device function:
// 64-bit integers and double), once per non-greedy row (also for top_k = 1), so the streams advance
// exactly as on the CPU.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "core/error.h"
#include "core/splitmix.h"

#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <cstdint>

namespace exg::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int64_t kMaxVocab = int64_t{1} << 30;  // int32 indices with room for the strided loops
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFullMask = 0xffffffffu;

struct SampleArgs {
    const float* logits;
    int64_t ld;
    int32_t vocab;
    float temperature;
    int32_t top_k;  // already resolved: 1..vocab
    float top_p;
    uint64_t* rng_states;
    int32_t* tokens;
};

__device__ __forceinline__ int lane_id() { return static_cast<int>(threadIdx.x) & 31; }
__device__ __forceinline__ int warp_id() { return static_cast<int>(threadIdx.x) >> 5; }

// Reduction of one value per thread; every thread gets the result, combined in the same order in every
// thread (so all agree bit for bit). scratch: kWarps entries of shared memory.
template <class T, class Op>
__device__ T block_reduce(T v, Op op, T* scratch) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(kFullMask, v, offset));
    __syncthreads();  // the scratch of a previous reduction may still be being read
    if (lane_id() == 0) scratch[warp_id()] = v;
    __syncthreads();
    T r = scratch[0];
    for (int w = 1; w < kWarps; ++w) r = op(r, scratch[w]);
    return r;
}

struct MaxF {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct MaxU {
    __device__ uint32_t operator()(uint32_t a, uint32_t b) const { return a > b ? a : b; }
};
struct MinI {
    __device__ int operator()(int a, int b) const { return a < b ? a : b; }
};

// --- greedy ------------------------------------------------------------------------------------------
__global__ void __launch_bounds__(kThreads) sample_greedy_kernel(const SampleArgs a) {
    const float* row = a.logits + static_cast<int64_t>(blockIdx.x) * a.ld;
    // Per thread, indices ascend, so strict '>' keeps the thread's lowest index among its maxima.
    float best = -INFINITY;
    int32_t best_i = INT_MAX;  // none yet
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < a.vocab; i += kThreads) {
        const float x = row[i];
        if (!isnan(x) && (best_i == INT_MAX || x > best)) {
            best = x;
            best_i = i;
        }
    }
    // Across threads: larger value, then lower index; "none" loses to everything.
    __shared__ float s_val[kWarps];
    __shared__ int32_t s_idx[kWarps];
    auto better = [](float v, int32_t i, float w, int32_t j) {
        return j != INT_MAX && (i == INT_MAX || w > v || (w == v && j < i));
    };
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        const float w = __shfl_xor_sync(kFullMask, best, offset);
        const int32_t j = __shfl_xor_sync(kFullMask, best_i, offset);
        if (better(best, best_i, w, j)) {
            best = w;
            best_i = j;
        }
    }
    if (lane_id() == 0) {
        s_val[warp_id()] = best;
        s_idx[warp_id()] = best_i;
    }
    __syncthreads();
    if (threadIdx.x != 0) return;
    for (int w = 1; w < kWarps; ++w)
        if (better(best, best_i, s_val[w], s_idx[w])) {
            best = s_val[w];
            best_i = s_idx[w];
        }
    // The CPU starts from index 0: a NaN there is never replaced; all-NaN rows also give 0.
    a.tokens[blockIdx.x] = (best_i == INT_MAX || isnan(row[0])) ? 0 : best_i;
}

// --- plain temperature sampling (index order) ----------------------------------------------------------
__device__ __forceinline__ double plain_prob(float x, float max_logit, double temperature) {
    return exp(static_cast<double>(x - max_logit) / temperature);  // the CPU's float difference, then double
}

__global__ void __launch_bounds__(kThreads) sample_plain_kernel(const SampleArgs a) {
    const float* row = a.logits + static_cast<int64_t>(blockIdx.x) * a.ld;
    const double temperature = a.temperature;
    __shared__ float s_f[kWarps];
    __shared__ double s_d[kWarps];
    __shared__ int s_i[kWarps];
    __shared__ double s_u;

    float local_max = -INFINITY;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < a.vocab; i += kThreads) local_max = fmaxf(local_max, row[i]);
    const float max_logit = block_reduce(local_max, MaxF{}, s_f);

    // Thread t owns [begin, end); its segment sum is a sequential double sum.
    const int32_t seg = (a.vocab + kThreads - 1) / kThreads;
    const int32_t begin = min(static_cast<int32_t>(threadIdx.x) * seg, a.vocab);
    const int32_t end = min(begin + seg, a.vocab);
    double sum = 0.0;
    for (int32_t i = begin; i < end; ++i) sum += plain_prob(row[i], max_logit, temperature);

    // Exclusive block scan of the segment sums: warp scans, then the warp totals in order.
    double incl = sum;
#pragma unroll
    for (int offset = 1; offset < 32; offset *= 2) {
        const double y = __shfl_up_sync(kFullMask, incl, offset);
        if (lane_id() >= offset) incl += y;
    }
    double excl = __shfl_up_sync(kFullMask, incl, 1);
    if (lane_id() == 0) excl = 0.0;
    if (lane_id() == 31) s_d[warp_id()] = incl;
    if (threadIdx.x == 0) {
        uint64_t state = a.rng_states[blockIdx.x];
        s_u = rng_uniform(state);
        a.rng_states[blockIdx.x] = state;
    }
    __syncthreads();
    double before = 0.0, total = 0.0;
    for (int w = 0; w < kWarps; ++w) {
        if (w < warp_id()) before += s_d[w];
        total += s_d[w];
    }
    const double offset = before + excl;
    // Target, relative to this segment's start. Rounding of the scan can put it a few ulps below 0 just
    // past a segment boundary; clamped, a weight-0 token (a -inf logit) can never be the one picked. (Not
    // fmax: a NaN total must stay NaN and reach the CPU's fallback below.)
    double rest = s_u * total - offset;
    if (rest < 0.0) rest = 0.0;

    // The first segment whose cumulative end passes the target holds the token.
    const int first = block_reduce(begin < end && rest < sum ? static_cast<int>(threadIdx.x) : kThreads, MinI{}, s_i);
    if (first == kThreads) {  // rounding put the target at or past the total: the CPU's fallback
        if (threadIdx.x == 0) a.tokens[blockIdx.x] = a.vocab - 1;
        return;
    }
    if (static_cast<int>(threadIdx.x) != first) return;
    double s = 0.0;
    int32_t token = end - 1;  // the same sums as above end at `sum` > rest, so the loop always breaks
    for (int32_t i = begin; i < end; ++i) {
        s += plain_prob(row[i], max_logit, temperature);
        if (rest < s) {
            token = i;
            break;
        }
    }
    a.tokens[blockIdx.x] = token;
}

// --- top-k / top-p: radix descent over order keys ---------------------------------------------------
using Mass = unsigned long long;  // fixed point, see the header comment

constexpr int kPasses = 3;
constexpr int kMaxBuckets = 2048;
// The digits of the passes: key bits [21, 32), [10, 21), [0, 10).
__device__ __forceinline__ int digit_shift(int pass) { return pass == 0 ? 21 : (pass == 1 ? 10 : 0); }
__device__ __forceinline__ int digit_bits(int pass) { return pass == 2 ? 10 : 11; }

// Unsigned order of the key == float order of the logit (for non-NaN values), -0 tied with +0.
__device__ __forceinline__ uint32_t order_key(float x) {
    uint32_t u = __float_as_uint(x);
    if (u == 0x80000000u) u = 0;
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_value(uint32_t key) {
    return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

struct MassScale {
    double max_logit;    // the sorted path's max (a double there, as on the CPU)
    double temperature;
    double one;          // 2^F: the fixed-point value of probability 1
};
__device__ __forceinline__ Mass fixed_mass(float x, const MassScale& m) {
    return __double2ull_rn(exp((static_cast<double>(x) - m.max_logit) / m.temperature) * m.one);
}

// Candidates: every key above `key`, plus the first `ties` (by index) elements whose key equals `key`;
// or, with all set, every element.
struct Members {
    uint32_t key;
    uint32_t ties;
    bool all;
};

struct Crossing {
    uint32_t key;         // the key where the running total crosses the threshold
    uint32_t available;   // members with exactly that key
    Mass mass_above;      // of the members with larger keys
    uint64_t count_above;
    Mass threshold;       // the threshold used (computed from the set's total in the first pass)
};

struct RankShared {
    uint32_t count[kMaxBuckets];
    Mass mass[kMaxBuckets];
    uint32_t digit;
    uint32_t bucket_count;
    uint64_t count_delta;
    Mass mass_delta;
    Mass threshold;
};

// Histogram of the members whose key starts with `prefix` (the digits chosen by earlier passes), by the
// digit of this pass. Ends with the histogram complete and visible to the whole block.
__device__ void histogram(const float* row, int32_t vocab, const Members& set, int pass, uint32_t prefix,
                          bool by_mass, const MassScale& ms, RankShared& sh) {
    const int buckets = 1 << digit_bits(pass);
    for (int b = static_cast<int>(threadIdx.x); b < buckets; b += kThreads) {
        sh.count[b] = 0;
        sh.mass[b] = 0;
    }
    __syncthreads();
    const uint32_t digit_mask = static_cast<uint32_t>(buckets - 1);
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < vocab; i += kThreads) {
        const float x = row[i];
        const uint32_t key = order_key(x);
        if (pass > 0 && (key >> digit_shift(pass - 1)) != prefix) continue;
        if (!set.all && key <= set.key) continue;  // the set's ties are added as one block below
        const uint32_t b = (key >> digit_shift(pass)) & digit_mask;
        atomicAdd(&sh.count[b], 1u);
        if (by_mass) atomicAdd(&sh.mass[b], fixed_mass(x, ms));
    }
    __syncthreads();
    if (threadIdx.x == 0 && !set.all && set.ties > 0 && (pass == 0 || (set.key >> digit_shift(pass - 1)) == prefix)) {
        const uint32_t b = (set.key >> digit_shift(pass)) & digit_mask;
        sh.count[b] += set.ties;
        if (by_mass) sh.mass[b] += static_cast<Mass>(set.ties) * fixed_mass(key_value(set.key), ms);
    }
    __syncthreads();
}

// One warp finds the first bucket, from the largest digit down, where above + running total > threshold
// (counts or masses), and publishes it with the totals of the buckets above it. Lane l owns the l-th
// group of buckets from the top.
template <class Threshold>
__device__ void find_bucket(int pass, bool by_mass, uint64_t count_above, Mass mass_above, Mass threshold,
                            Threshold first_threshold, RankShared& sh) {
    const int lane = lane_id();
    const int buckets = 1 << digit_bits(pass);
    const int per_lane = buckets / 32;
    const int top = buckets - 1 - lane * per_lane;  // this lane's buckets: top, top - 1, ..., top - per_lane + 1
    uint64_t c = 0;
    Mass m = 0;
    // Integer sums do not care about order: lane l starts l buckets into its range, so the 32 lanes read
    // 32 different banks (their ranges are a multiple of 32 words apart) instead of one.
    for (int j = 0; j < per_lane; ++j) {
        const int b = top - ((j + lane) & (per_lane - 1));
        c += sh.count[b];
        m += sh.mass[b];
    }
    uint64_t c_incl = c;
    Mass m_incl = m;
#pragma unroll
    for (int offset = 1; offset < 32; offset *= 2) {
        const uint64_t yc = __shfl_up_sync(kFullMask, c_incl, offset);
        const Mass ym = __shfl_up_sync(kFullMask, m_incl, offset);
        if (lane >= offset) {
            c_incl += yc;
            m_incl += ym;
        }
    }
    // In the first pass the histogram holds every member: the set's total decides the threshold.
    if (pass == 0) threshold = first_threshold(__shfl_sync(kFullMask, by_mass ? m_incl : c_incl, 31));
    const Mass above = by_mass ? mass_above : count_above;
    const unsigned crossing = __ballot_sync(kFullMask, above + (by_mass ? m_incl : c_incl) > threshold);
    // With exact integer sums some lane always crosses; the last lane keeps the index in range otherwise.
    const int owner = crossing ? __ffs(static_cast<int>(crossing)) - 1 : 31;
    if (lane != owner) return;
    uint64_t run_c = c_incl - c;  // exclusive: the buckets above this lane's
    Mass run_m = m_incl - m;
    int b = top;
    for (int j = 0; j < per_lane; ++j, --b) {
        const Mass v = by_mass ? sh.mass[b] : sh.count[b];
        if (above + (by_mass ? run_m : run_c) + v > threshold || j == per_lane - 1) break;
        run_c += sh.count[b];
        run_m += sh.mass[b];
    }
    sh.digit = static_cast<uint32_t>(b);
    sh.bucket_count = sh.count[b];
    sh.count_delta = run_c;
    sh.mass_delta = run_m;
    sh.threshold = threshold;
}

// The radix descent: after three passes the key is complete, and `available` counts its members.
template <class Threshold>
__device__ Crossing descend(const float* row, int32_t vocab, const Members& set, bool by_mass, const MassScale& ms,
                            Threshold first_threshold, RankShared& sh) {
    uint32_t prefix = 0;
    uint64_t count_above = 0;
    Mass mass_above = 0;
    Mass threshold = 0;
    uint32_t available = 0;
    for (int pass = 0; pass < kPasses; ++pass) {
        histogram(row, vocab, set, pass, prefix, by_mass, ms, sh);
        if (warp_id() == 0) find_bucket(pass, by_mass, count_above, mass_above, threshold, first_threshold, sh);
        __syncthreads();
        prefix = (prefix << digit_bits(pass)) | sh.digit;
        count_above += sh.count_delta;
        mass_above += sh.mass_delta;
        threshold = sh.threshold;
        available = sh.bucket_count;
        __syncthreads();  // everyone has read sh before the next pass clears it
    }
    return Crossing{prefix, available, mass_above, count_above, threshold};
}

// Index of the rank-th (0-based) element of the row whose key is `key`, in index order.
__device__ int32_t nth_with_key(const float* row, int32_t vocab, uint32_t key, uint32_t rank, uint32_t* s_counts,
                                int32_t* s_found) {
    if (threadIdx.x == 0) *s_found = -1;
    uint32_t seen = 0;
    for (int32_t base = 0; base < vocab; base += kThreads) {
        const int32_t i = base + static_cast<int32_t>(threadIdx.x);
        const bool hit = i < vocab && order_key(row[i]) == key;
        const unsigned ballot = __ballot_sync(kFullMask, hit);
        if (lane_id() == 0) s_counts[warp_id()] = static_cast<uint32_t>(__popc(ballot));
        __syncthreads();
        uint32_t before = seen, in_tile = 0;
        for (int w = 0; w < kWarps; ++w) {
            if (w < warp_id()) before += s_counts[w];
            in_tile += s_counts[w];
        }
        before += static_cast<uint32_t>(__popc(ballot & ((1u << lane_id()) - 1u)));
        if (hit && before == rank) *s_found = i;
        seen += in_tile;
        __syncthreads();
        if (*s_found >= 0) break;  // uniform: every thread reads the same value after the barrier
    }
    return *s_found;
}

__global__ void __launch_bounds__(kThreads) sample_ranked_kernel(const SampleArgs a) {
    const float* row = a.logits + static_cast<int64_t>(blockIdx.x) * a.ld;
    __shared__ RankShared sh;  // 24 KiB of histograms
    __shared__ uint32_t s_u32[kWarps];
    __shared__ int32_t s_found;
    __shared__ double s_u;

    uint32_t local_max = 0;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < a.vocab; i += kThreads) {
        const uint32_t key = order_key(row[i]);
        local_max = key > local_max ? key : local_max;
    }
    const uint32_t max_key = block_reduce(local_max, MaxU{}, s_u32);
    const int bit_length = 32 - __clz(a.vocab);
    MassScale ms;
    ms.max_logit = key_value(max_key);
    ms.temperature = a.temperature;
    ms.one = static_cast<double>(1ull << (63 - bit_length));  // vocab * 2^F < 2^63
    // Every logit -inf: the CPU's weights are all NaN (-inf - -inf), so it cuts nothing and its walk ends
    // on the last of its k candidates, the first k indices (all tied). It still draws.
    if (ms.max_logit == -INFINITY) {
        if (threadIdx.x == 0) {
            uint64_t state = a.rng_states[blockIdx.x];
            (void)rng_uniform(state);
            a.rng_states[blockIdx.x] = state;
            a.tokens[blockIdx.x] = a.top_k - 1;
        }
        return;  // uniform: every thread holds the same max_key
    }

    // Top-k: the k-th largest key; the set takes every larger key and the lowest-index ties of it.
    Members top_k{0, 0, true};
    if (a.top_k < a.vocab) {
        const uint32_t k = static_cast<uint32_t>(a.top_k);
        const Crossing c = descend(row, a.vocab, top_k, false, ms, [k](Mass) { return static_cast<Mass>(k - 1); }, sh);
        top_k = Members{c.key, k - static_cast<uint32_t>(c.count_above), false};
    }

    // Top-p: the shortest prefix of the top-k order whose mass reaches top_p * total (integer masses:
    // cumulative >= ceil(top_p * total), i.e. > that - 1).
    Members kept = top_k;
    if (a.top_p < 1.0f) {
        const double top_p = a.top_p;
        const Crossing c = descend(row, a.vocab, top_k, true, ms, [top_p](Mass total) {
            Mass x = static_cast<Mass>(ceil(top_p * static_cast<double>(total)));
            x = x < 1 ? 1 : (x > total ? total : x);
            return x - 1;
        }, sh);
        const Mass p = fixed_mass(key_value(c.key), ms);
        const Mass need = c.threshold + 1 - c.mass_above;  // >= 1: the descent stops at the first crossing
        Mass ties = p > 0 ? (need + p - 1) / p : c.available;
        ties = ties < 1 ? 1 : (ties > c.available ? c.available : ties);
        kept = Members{c.key, static_cast<uint32_t>(ties), false};
    }

    // The draw, then the first kept token whose cumulative mass exceeds floor(u * kept_total).
    if (threadIdx.x == 0) {
        uint64_t state = a.rng_states[blockIdx.x];
        s_u = rng_uniform(state);
        a.rng_states[blockIdx.x] = state;
    }
    __syncthreads();
    const double u = s_u;
    const Crossing c = descend(row, a.vocab, kept, true, ms, [u](Mass total) {
        const Mass x = static_cast<Mass>(floor(u * static_cast<double>(total)));
        return x < total ? x : total - 1;
    }, sh);
    const Mass p = fixed_mass(key_value(c.key), ms);
    Mass rank = p > 0 ? (c.threshold - c.mass_above) / p : c.available;
    if (c.available == 0) rank = 0;
    else if (rank > c.available - 1) rank = c.available - 1;
    const int32_t token = nth_with_key(row, a.vocab, c.key, static_cast<uint32_t>(rank), s_u32, &s_found);
    if (threadIdx.x == 0) a.tokens[blockIdx.x] = token >= 0 ? token : 0;
}

}  // namespace

size_t sample_workspace_bytes(int64_t rows, int64_t vocab) {
    (void)rows;
    (void)vocab;
    return 0;  // every kernel keeps its state in shared memory and registers
}

void sample(const SampleLaunch& p, cudaStream_t stream) {
    require(p.rows >= 0 && p.vocab >= 1 && p.ld >= p.vocab, EXG_ERR_INVALID_ARGUMENT, "sample: ", p.rows,
            " rows of ", p.vocab, " logits with leading dimension ", p.ld);
    require(p.vocab <= kMaxVocab, EXG_ERR_UNSUPPORTED, "sample: a vocabulary of ", p.vocab, " exceeds ", kMaxVocab);
    require(p.rows <= INT_MAX, EXG_ERR_INVALID_ARGUMENT, "sample: ", p.rows, " rows exceed the grid limit");
    if (p.rows == 0) return;
    require(p.logits != nullptr && p.tokens != nullptr, EXG_ERR_INVALID_ARGUMENT, "sample: null logits or tokens");
    SampleArgs a{};
    a.logits = p.logits;
    a.ld = p.ld;
    a.vocab = static_cast<int32_t>(p.vocab);
    a.rng_states = p.rng_states;
    a.tokens = p.tokens;
    const unsigned grid = static_cast<unsigned>(p.rows);
    if (p.greedy) {
        sample_greedy_kernel<<<grid, kThreads, 0, stream>>>(a);
        check_launch("sample_greedy_kernel");
        return;
    }
    require(p.temperature > 0.0f && std::isfinite(p.temperature), EXG_ERR_INVALID_ARGUMENT,
            "sample: temperature must be positive, got ", p.temperature);
    require(p.top_p > 0.0f && p.top_p <= 1.0f, EXG_ERR_INVALID_ARGUMENT, "sample: top_p must be in (0, 1], got ",
            p.top_p);
    require(p.rng_states != nullptr, EXG_ERR_INVALID_ARGUMENT, "sample: null rng states");
    a.temperature = p.temperature;
    a.top_k = p.top_k > 0 && p.top_k < p.vocab ? p.top_k : static_cast<int32_t>(p.vocab);
    a.top_p = p.top_p;
    if (a.top_k == a.vocab && p.top_p >= 1.0f) {
        sample_plain_kernel<<<grid, kThreads, 0, stream>>>(a);
        check_launch("sample_plain_kernel");
    } else {
        sample_ranked_kernel<<<grid, kThreads, 0, stream>>>(a);
        check_launch("sample_ranked_kernel");
    }
}

}  // namespace exg::cuda
