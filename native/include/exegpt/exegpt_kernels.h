/*
 * ExeGPT kernel plug-in ABI: a shared library of your own kernels that the engine calls instead of its
 * own attention and/or feed-forward network (FFN). This is the one interface the engine *calls out*
 * through; everything else is exegpt.h, which this header includes for exg_status and exg_activation.
 *
 * Loading. `exegpt profile --kernel-lib ./libmykernels.so ...`, or from code
 * exg_backend_load_kernel_library(backend, path) (exegpt.h). The engine opens the file at `path` (a file
 * path, relative to the working directory; the library search path is never consulted), resolves the
 * library's one required export
 *
 *     const exg_kernel_table* exg_kernels_get(uint32_t abi_version);
 *
 * calls it with EXG_KERNEL_ABI_VERSION, and accepts the table only when it is non-NULL, its abi_version
 * equals the version asked for, its struct_size is sizeof(exg_kernel_table), it has a non-empty name and
 * at least one op. Models created on that backend afterwards call the table's non-NULL ops in every
 * layer; a NULL op keeps the engine's own. The table and its name must stay valid while the library is
 * loaded (a static table is the simple way). CPU backend only for now: every pointer below is host memory.
 *
 * Contract of every op:
 *  - params->struct_size is sizeof of the params struct of this ABI version; check it before reading on;
 *  - every buffer belongs to the engine (caller-owned, as FlashInfer's params structs): read and write only
 *    the ranges described below, never free them or keep a pointer past the call; the scratch an op needs
 *    is passed in (workspace), so a plug-in need not allocate;
 *  - return 0 on success. On failure return an exg_status code (EXG_ERR_UNSUPPORTED for a shape you do not
 *    handle, EXG_ERR_INVALID_ARGUMENT for parameters you reject, ...; any other value is reported as
 *    EXG_ERR_INTERNAL) and write a NUL-terminated message of at most error_capacity bytes into error. The
 *    engine fails the step with that status and the message "kernel library '<name>': attention failed:
 *    <your message>"; the step does not extend any sequence, and the model stays usable;
 *  - never let a C++ exception, abort or exit escape: report the failure instead;
 *  - ops may run concurrently on several threads, each for a different model shard (tensor-parallel ranks,
 *    pipeline stages), so shared state must be thread-safe;
 *  - num_threads is how many threads the engine's own kernel would use; a plug-in may use any number.
 *
 * Layout conventions: matrices are row-major FP32; a "stride" is the distance between consecutive rows in
 * floats. A batch is ragged: sequence s owns the consecutive rows [q_start[s], q_start[s] + seq_lens[s]) of
 * the token-major inputs and outputs, and tokens = sum(seq_lens) rows in all.
 *
 * Versioning: EXG_KERNEL_ABI_VERSION changes whenever a struct or a rule here changes; a library may serve
 * several versions by returning a different table for each, or NULL for a version it does not speak.
 * An example plug-in lives in native/examples/kernels/.
 */
#ifndef EXEGPT_EXEGPT_KERNELS_H
#define EXEGPT_EXEGPT_KERNELS_H

#include <exegpt/exegpt.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EXG_KERNEL_ABI_VERSION 1

/* Marks the plug-in's exports (exg_kernels_get) visible, whatever the library's default visibility. */
#if defined(_WIN32)
#  define EXG_KERNEL_EXPORT __declspec(dllexport)
#else
#  define EXG_KERNEL_EXPORT __attribute__((visibility("default")))
#endif

/* The symbol the engine resolves. */
#define EXG_KERNELS_GET_SYMBOL "exg_kernels_get"

/*
 * Causal self-attention of one layer over a ragged batch, with the KV cache: what the engine's own
 * attention does between the QKV projection and the output projection.
 *
 * For every sequence s, head h < num_heads and new token i < seq_lens[s] (row r = q_start[s] + i):
 *  1. store the token's key and value: K[slots[s], h, past_lens[s] + i, :] = qkv[r, (num_heads + h) * head_dim ...]
 *     and V[slots[s], h, past_lens[s] + i, :] = qkv[r, (2 * num_heads + h) * head_dim ...];
 *  2. out[r, h * head_dim + d] = sum_j softmax_j(scale * q . K[slots[s], h, j, :]) * V[slots[s], h, j, d]
 *     over the positions j = 0 .. past_lens[s] + i (causal: the token sees the past and itself), where
 *     q = qkv[r, h * head_dim ...].
 * Positions 0 .. past_lens[s] - 1 of the slot hold earlier steps' keys and values; positions past
 * past_lens[s] + seq_lens[s] - 1, and slots not in the batch, must not be written.
 */
typedef struct exg_attention_params {
    uint32_t struct_size;
    int32_t num_seqs;          /* sequences in the batch */
    const int32_t* slots;      /* [num_seqs] KV-cache slot of each sequence (distinct) */
    const int32_t* q_start;    /* [num_seqs] first row of each sequence in qkv and out */
    const int32_t* seq_lens;   /* [num_seqs] new tokens: a prompt (prefill) or 1 (decode) */
    const int32_t* past_lens;  /* [num_seqs] tokens already cached in the slot before this step */
    const float* qkv;          /* [tokens x qkv_stride]: each row is q, then k, then v, each num_heads x head_dim */
    int64_t qkv_stride;        /* >= 3 * num_heads * head_dim */
    float* out;                /* [tokens x out_stride]: each row num_heads x head_dim outputs, head-major */
    int64_t out_stride;        /* >= num_heads * head_dim */
    float* k_cache;            /* this layer's keys: (slot, head, pos, d) at
                                  slot * slot_stride + head * head_stride + pos * head_dim + d */
    float* v_cache;            /* this layer's values, same layout */
    int64_t slot_stride;       /* >= num_heads * head_stride */
    int64_t head_stride;       /* >= kv_capacity * head_dim */
    int32_t kv_capacity;       /* positions per slot; past_lens[s] + seq_lens[s] <= kv_capacity */
    int32_t num_heads;         /* heads on this tensor-parallel rank */
    int32_t head_dim;
    float scale;               /* softmax scale, 1 / sqrt(head_dim) */
    int32_t layer;             /* the model's layer index (information, e.g. for logging) */
    uint8_t is_decode;         /* 1 in a decode step (every seq_lens[s] == 1), 0 in prefill */
    uint8_t reserved[3];
    int32_t num_threads;
} exg_attention_params;

/*
 * The feed-forward network of one layer: out = fc2(act(fc1(x))), that is
 *   workspace[t, f] = act(sum_k x[t, k] * fc1_weight[f, k] + fc1_bias[f])
 *   out[t, o]       = sum_f workspace[t, f] * fc2_weight[o, f] + fc2_bias[o]
 * Weights are in Hugging Face's [out, in] layout. With tensor parallelism, ffn_dim is this rank's share and
 * out is its partial sum (the engine all-reduces it afterwards), so only rank 0 gets fc2_bias.
 */
typedef struct exg_ffn_params {
    uint32_t struct_size;
    int32_t activation;        /* exg_activation, applied to fc1's output */
    int64_t tokens;            /* rows of x, workspace and out */
    int64_t hidden_size;       /* columns of x and out */
    int64_t ffn_dim;           /* fc1 outputs on this tensor-parallel rank */
    const float* x;            /* [tokens x x_stride] */
    int64_t x_stride;
    const float* fc1_weight;   /* [ffn_dim x hidden_size] */
    const float* fc1_bias;     /* [ffn_dim]; NULL: no bias */
    const float* fc2_weight;   /* [hidden_size x ffn_dim] */
    const float* fc2_bias;     /* [hidden_size]; NULL: no bias */
    float* workspace;          /* [tokens x ffn_dim] scratch for fc1's output (contents on return do not matter) */
    float* out;                /* [tokens x out_stride] */
    int64_t out_stride;
    int32_t layer;             /* the model's layer index (information) */
    int32_t num_threads;
} exg_ffn_params;

/* What exg_kernels_get returns. A NULL op keeps the engine's own kernel for that op. */
typedef struct exg_kernel_table {
    uint32_t struct_size;      /* sizeof(exg_kernel_table) */
    uint32_t abi_version;      /* EXG_KERNEL_ABI_VERSION the library was built against */
    const char* name;          /* short name, shown in errors and recorded in profiles */
    int32_t (*attention)(const exg_attention_params* params, char* error, size_t error_capacity);
    int32_t (*ffn)(const exg_ffn_params* params, char* error, size_t error_capacity);
} exg_kernel_table;

typedef const exg_kernel_table* (*exg_kernels_get_fn)(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif /* EXEGPT_EXEGPT_KERNELS_H */
