// Launch interface of the hand-written CUDA kernels. CudaBackend (cuda_backend.cu) translates the
// backend ops (backend/backend.h) into these launches; the op-parity harness and bench/gpu reach them
// only through the backend. Every launch takes device pointers only (the backend stages the host batch
// metadata), a stream, and caller-owned workspaces; none allocates, none synchronises.
//
// Storage is F16 or BF16 (DType), accumulation is F32. Element counts and strides are in elements.
#pragma once

#include "backend/backend.h"

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace exg::cuda {

enum class DType : int32_t { F16 = 1, BF16 = 2 };  // the values of exg_dtype

// --- attention (attention_prefill.cu, attention_decode.cu) -------------------------------------------
// One layer of self-attention over a ragged batch: backend.h's AttentionParams (its cache layout:
// (slot, head, pos, d) at slot * slot_stride + head * head_stride + pos * head_dim + d), except that slot,
// q_start, len and past are DEVICE arrays [num_seqs] here (the backend staged the host ones), plus what the
// launch needs beyond them. head_dim: 64, 80, 96 or 128 (others: a clear Error). causal = 0: every row
// attends to all past + len keys (prefill only; decode ignores it). decode is not read: the backend picks
// the launch.
struct AttentionLaunch : AttentionParams {
    DType dtype;
    int32_t max_len;         // host-known max of len (grid sizing)
    int32_t max_total;       // host-known max of past + len
    int64_t total_tokens;    // sum of len
    int32_t sm_count;        // the device's multiprocessors (split-KV sizing)
    void* workspace;         // caller-owned, attention_workspace_bytes(...) bytes; may be null when that is 0
    size_t workspace_bytes;
};

// Writes the batch's new keys and values (the k and v thirds of each qkv row) into the cache at
// positions [past, past + len) of each sequence's slot.
void append_kv(const AttentionLaunch& p, cudaStream_t stream);

// Flash-attention-style prefill (any past, any len): each query row i of sequence s attends to cache
// positions [0, past + i] (append_kv has run), or to all [0, past + len) when not causal. Tiled with an online softmax; no score matrix in memory.
void prefill_attention(const AttentionLaunch& p, cudaStream_t stream);

// Decode (every len is 1): one query per sequence over its past + 1 cached positions; long contexts
// split the keys across blocks (split-KV) and merge the partial softmaxes in a second pass.
void decode_attention(const AttentionLaunch& p, cudaStream_t stream);
// Workspace the decode path needs for up to num_seqs sequences of up to max_total positions.
size_t attention_workspace_bytes(int32_t num_seqs, int32_t num_heads, int32_t head_dim, int32_t max_total,
                                 int32_t sm_count);

// --- GEMM epilogue fallback (bias_activation.cu) ---------------------------------------------------------------
// x[rows x cols] (leading dimension ld) = act(x + bias[cols]) in place; bias may be null; activation is
// exg_activation (the exact-erf GELU and SiLU cuBLASLt cannot fuse).
void bias_activation(DType dtype, void* x, int64_t rows, int64_t cols, int64_t ld, const void* bias,
                     int32_t activation, cudaStream_t stream);
// The same on an F32 x (the LM head's logits) with a bias in the storage dtype bias_dtype.
void bias_activation_f32(DType bias_dtype, float* x, int64_t rows, int64_t cols, int64_t ld, const void* bias,
                         int32_t activation, cudaStream_t stream);

// --- sampling (sampling.cu) ------------------------------------------------------------------------------
// One token per row of F32 logits, with the CPU sampler's rule (sampling/sampler.cpp): greedy = the
// lowest index among the maxima. Otherwise weights exp((logit - max) / temperature); with neither top_k
// nor top_p (< 1) the walk is in INDEX order over the whole vocabulary; with either, in descending logit
// order (ties: lower index first) cut to the top_k, then to the smallest prefix whose probability reaches
// top_p. One uniform u = rng_uniform(state) (splitmix, core/splitmix.h) picks the first token whose
// cumulative kept weight exceeds u * kept_total. rng_states advance by one draw per non-greedy row.
struct SampleLaunch {
    int64_t rows, vocab;
    const float* logits;  // device [rows x ld]
    int64_t ld;
    int32_t greedy;
    float temperature;
    int32_t top_k;        // <= 0: no limit
    float top_p;          // (0, 1]
    uint64_t* rng_states; // device [rows]
    int32_t* tokens;      // device [rows]
    void* workspace;      // caller-owned, sample_workspace_bytes(rows, vocab) bytes
    size_t workspace_bytes;
};
size_t sample_workspace_bytes(int64_t rows, int64_t vocab);
void sample(const SampleLaunch& p, cudaStream_t stream);

}  // namespace exg::cuda
