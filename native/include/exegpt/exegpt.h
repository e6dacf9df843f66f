/*
 * ExeGPT native engine — the only public C ABI.
 *
 * Conventions (design.md, "Contracts that must hold"):
 *  - every symbol is prefixed exg_; objects are opaque handles;
 *  - every fallible call returns exg_status and, on failure, leaves a thread-local message readable
 *    with exg_last_error_message(); no C++ exception, abort or exit crosses this boundary;
 *  - booleans are uint8_t; every struct passed in starts with struct_size (set it to sizeof) so the
 *    library can reject callers built against a different layout;
 *  - callers own outputs and workspaces; the library never keeps a pointer to caller memory past the
 *    call that received it;
 *  - EXG_API_VERSION changes whenever this file changes incompatibly; callers check it at load.
 *
 * The object ladder:  backend (cpu | cuda) -> model shard (layer range x tensor-parallel rank)
 *                     -> kv cache (sequence slots)      comm (collectives of one TP group)
 *                     host buffers (page-locked when the backend can) for the zero-copy host path.
 */
#ifndef EXEGPT_EXEGPT_H
#define EXEGPT_EXEGPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define EXG_API __declspec(dllexport)
#else
#  define EXG_API __attribute__((visibility("default")))
#endif

#define EXG_API_VERSION 2

/* ---------------------------------------------------------------------------------------------- */
/* Status and errors                                                                               */
/* ---------------------------------------------------------------------------------------------- */

typedef enum exg_status {
    EXG_OK = 0,
    EXG_ERR_INVALID_ARGUMENT = 1, /* a parameter is null, out of range, or inconsistent */
    EXG_ERR_IO = 2,               /* a file could not be opened, read or written */
    EXG_ERR_FORMAT = 3,           /* a checkpoint or config is malformed or contradicts the config */
    EXG_ERR_OUT_OF_MEMORY = 4,    /* host or device allocation failed */
    EXG_ERR_UNSUPPORTED = 5,      /* valid request this build or backend cannot serve */
    EXG_ERR_CAPACITY = 6,         /* a sequence or cache would exceed its capacity */
    EXG_ERR_COMM = 7,             /* a collective failed, timed out or was aborted */
    EXG_ERR_INTERNAL = 8,         /* a bug: an unexpected exception was caught at the boundary */
    EXG_ERR_DEVICE = 9            /* the GPU failed: a CUDA, cuBLASLt or NCCL call returned an error */
} exg_status;

/* The library's EXG_API_VERSION; a caller built against another version must not continue. */
EXG_API uint32_t exg_api_version(void);

/* Message of the last failed call on this thread (never NULL; "" when none). Valid until the next
 * exg_ call on this thread. */
EXG_API const char* exg_last_error_message(void);

/* Static name of a status code, e.g. "EXG_ERR_FORMAT". */
EXG_API const char* exg_status_name(exg_status status);

/* ---------------------------------------------------------------------------------------------- */
/* Model configuration                                                                             */
/* ---------------------------------------------------------------------------------------------- */

typedef enum exg_dtype {
    EXG_DTYPE_F32 = 0,
    EXG_DTYPE_F16 = 1,
    EXG_DTYPE_BF16 = 2
} exg_dtype;

typedef enum exg_activation {
    EXG_ACT_RELU = 0,
    EXG_ACT_GELU = 1,      /* exact, erf-based (HF "gelu") */
    EXG_ACT_GELU_TANH = 2, /* tanh approximation (HF "gelu_new", "gelu_pytorch_tanh", "gelu_fast") */
    EXG_ACT_SILU = 3
} exg_activation;

/* A decoder-only transformer of the OPT/GPT family. Field meanings follow Hugging Face OPTConfig. */
typedef struct exg_model_config {
    uint32_t struct_size;
    int32_t vocab_size;
    int32_t hidden_size;
    int32_t num_layers;
    int32_t num_heads;
    int32_t ffn_dim;
    int32_t max_positions;       /* max_position_embeddings: longest sequence (prompt + generated) */
    int32_t position_offset;     /* rows of the position table before position 0 (2 for OPT) */
    int32_t word_embed_proj_dim; /* token-embedding width; != hidden_size adds project_in/out */
    int32_t activation;          /* exg_activation */
    float layer_norm_eps;        /* 1e-5 for OPT */
    uint8_t pre_layer_norm;      /* do_layer_norm_before */
    uint8_t final_layer_norm;    /* a final LayerNorm after the last block (pre-LN models only) */
    uint8_t layer_norm_affine;   /* layer_norm_elementwise_affine */
    uint8_t enable_bias;         /* biases on the attention and FFN projections */
    uint8_t tied_lm_head;        /* LM head shares the token embedding (tie_word_embeddings) */
    uint8_t reserved[3];
} exg_model_config;

/* Fills *out with a named shape: "opt-125m" ... "opt-66b", "gpt3-39b", "gpt3-101b", "gpt3-175b",
 * "gpt3-341b", "tiny", "tiny-gelu", "tiny-postln", "tiny-proj". */
EXG_API exg_status exg_config_preset(const char* name, exg_model_config* out);

/* Number of presets and the name of preset i (static string; NULL when out of range). */
EXG_API int32_t exg_config_preset_count(void);
EXG_API const char* exg_config_preset_name(int32_t index);

/* Reads <dir>/config.json of a Hugging Face OPT checkpoint. */
EXG_API exg_status exg_config_from_checkpoint(const char* checkpoint_dir, exg_model_config* out);

/* Checks a config for consistency (positive sizes, heads divide hidden, ...). */
EXG_API exg_status exg_config_validate(const exg_model_config* config);

/* ---------------------------------------------------------------------------------------------- */
/* Backends                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

typedef struct exg_backend exg_backend;

typedef enum exg_backend_kind {
    EXG_BACKEND_CPU = 0,
    EXG_BACKEND_CUDA = 1
} exg_backend_kind;

typedef struct exg_backend_params {
    uint32_t struct_size;
    int32_t kind;        /* exg_backend_kind */
    int32_t device;      /* device ordinal (CUDA); ignored on CPU */
    int32_t num_threads; /* CPU threads for GEMMs and attention; <= 0 means all cores */
    int32_t dtype;       /* storage dtype of weights, activations and KV cache (exg_dtype); -1: the backend's
                          * default. CPU: F32 only. CUDA: F16 or BF16 (default BF16), accumulating in F32. */
} exg_backend_params;

EXG_API exg_status exg_backend_create(const exg_backend_params* params, exg_backend** out);
EXG_API void exg_backend_free(exg_backend* backend);
/* Static name: "cpu" or "cuda". */
EXG_API const char* exg_backend_name(const exg_backend* backend);
/* 1 when a backend of this kind can be created on this machine (library present, device found). */
EXG_API uint8_t exg_backend_available(int32_t kind);
/* Why exg_backend_available(kind) is 0 (a static-lifetime message, e.g. "no CUDA-capable device is
 * detected"); "" when the kind is available. */
EXG_API const char* exg_backend_unavailable_reason(int32_t kind);
/* The backend's storage dtype (exg_dtype). */
EXG_API int32_t exg_backend_dtype(const exg_backend* backend);

typedef struct exg_device_info {
    uint32_t struct_size;
    char name[128];              /* "NVIDIA H100 80GB HBM3"; the CPU model on the CPU backend */
    uint64_t total_memory;       /* bytes */
    uint64_t free_memory;        /* bytes, now */
    int32_t multiprocessors;     /* SMs (CUDA); the threads the backend computes with (CPU) */
    int32_t compute_capability;  /* major * 10 + minor (CUDA); 0 on CPU */
    double peak_bandwidth_gbps;  /* from the memory clock and bus width (CUDA); 0 when unknown */
} exg_device_info;

EXG_API exg_status exg_backend_device_info(const exg_backend* backend, exg_device_info* out);

/* ---------------------------------------------------------------------------------------------- */
/* Kernel plug-ins: a user's library of attention / FFN kernels (ABI in exegpt_kernels.h)          */
/* ---------------------------------------------------------------------------------------------- */

/* The ops a kernel library replaces (bit flags). */
typedef enum exg_kernel_op {
    EXG_KERNEL_OP_NONE = 0,
    EXG_KERNEL_OP_ATTENTION = 1,
    EXG_KERNEL_OP_FFN = 2
} exg_kernel_op;

/* Loads the kernel library at `path` (a file path, relative to the working directory; never searched for)
 * into a CPU backend: models created on the backend afterwards run the library's ops instead of the
 * engine's own; models created before keep the engine's. One library per backend; the library stays
 * loaded while the backend or a model using it lives. Errors name the path:
 * EXG_ERR_IO (no such file), EXG_ERR_FORMAT (not a loadable library, no exg_kernels_get export, a table
 * without a name or without ops), EXG_ERR_UNSUPPORTED (it does not speak EXG_KERNEL_ABI_VERSION, or the
 * backend is not a CPU backend), EXG_ERR_INVALID_ARGUMENT (a library is already loaded). */
EXG_API exg_status exg_backend_load_kernel_library(exg_backend* backend, const char* path);
/* The loaded library's name (its table's name; valid while the backend lives), or NULL when none. */
EXG_API const char* exg_backend_kernel_library_name(const exg_backend* backend);
/* The ops the loaded library replaces: exg_kernel_op flags; EXG_KERNEL_OP_NONE when none is loaded. */
EXG_API uint32_t exg_backend_kernel_ops(const exg_backend* backend);

/* ---------------------------------------------------------------------------------------------- */
/* Host buffers: memory the runner exchanges with the engine (page-locked on CUDA backends).       */
/* ---------------------------------------------------------------------------------------------- */

typedef struct exg_host_buffer exg_host_buffer;

EXG_API exg_status exg_host_buffer_alloc(exg_backend* backend, uint64_t bytes, exg_host_buffer** out);
EXG_API void exg_host_buffer_free(exg_host_buffer* buffer);
/* 64-byte aligned, valid while the buffer lives. */
EXG_API void* exg_host_buffer_data(exg_host_buffer* buffer);
EXG_API uint64_t exg_host_buffer_size(const exg_host_buffer* buffer);

/* ---------------------------------------------------------------------------------------------- */
/* Collectives: one communicator per rank of a tensor-parallel group.                              */
/* ---------------------------------------------------------------------------------------------- */

typedef struct exg_comm exg_comm;

/* Creates world_size communicators joined in one host group (ranks run as threads of this
 * process); comms_out receives world_size handles, rank i at index i. A collective that waits
 * longer than timeout_ms (0: 60000) for a peer fails with EXG_ERR_COMM instead of hanging. */
EXG_API exg_status exg_comm_create_host_group(int32_t world_size, uint32_t timeout_ms, exg_comm** comms_out);
EXG_API void exg_comm_free(exg_comm* comm);
EXG_API int32_t exg_comm_rank(const exg_comm* comm);
EXG_API int32_t exg_comm_size(const exg_comm* comm);
/* Every rank's data[0..count) becomes the elementwise sum over ranks. All ranks must call. */
EXG_API exg_status exg_comm_all_reduce_sum_f32(exg_comm* comm, float* data, uint64_t count);
/* Fails every pending and future collective of the group with EXG_ERR_COMM (a rank gave up). */
EXG_API void exg_comm_abort(exg_comm* comm);

/* NCCL (CUDA backend): one communicator per GPU rank of a group, joined by a unique id that rank 0
 * creates and every rank receives (threads of one process, or processes). NCCL is loaded at run time
 * (libnccl.so.2 on the library path, or EXEGPT_NCCL_LIBRARY=/path/libnccl.so.2). The data of
 * exg_comm_all_reduce_sum_f32 is then device memory of the backend. A collective that does not
 * complete within timeout_ms (0: 60 s) aborts the communicator and fails with EXG_ERR_COMM. */
#define EXG_NCCL_UNIQUE_ID_BYTES 128
EXG_API exg_status exg_comm_nccl_unique_id(uint8_t* id_out, uint64_t capacity);
EXG_API exg_status exg_comm_create_nccl(exg_backend* backend, const uint8_t* unique_id, int32_t world_size, int32_t rank,
                                        uint32_t timeout_ms, exg_comm** out);

/* ---------------------------------------------------------------------------------------------- */
/* Models: a shard = a contiguous layer range (pipeline stage) x a tensor-parallel rank            */
/* ---------------------------------------------------------------------------------------------- */

typedef struct exg_model exg_model;

typedef struct exg_model_params {
    uint32_t struct_size;
    exg_model_config config;
    const char* checkpoint_dir; /* Hugging Face OPT directory; NULL: seeded random weights */
    uint64_t seed;              /* random init seed (same seed => same full model for any sharding) */
    int32_t layer_begin;        /* first layer of this shard */
    int32_t layer_end;          /* one past the last layer; layer_end == layer_begin is invalid */
    int32_t tp_rank;
    int32_t tp_size;            /* heads and ffn_dim must divide by it */
    exg_comm* comm;             /* required when tp_size > 1: the rank's communicator */
} exg_model_params;

typedef struct exg_model_info {
    uint32_t struct_size;
    exg_model_config config;
    int32_t layer_begin;
    int32_t layer_end;
    int32_t tp_rank;
    int32_t tp_size;
    uint8_t is_first_stage; /* consumes token ids (embeddings live here) */
    uint8_t is_last_stage;  /* produces logits (final norm and LM head live here) */
    uint8_t reserved[2];
    int32_t local_heads;    /* heads on this TP rank */
    uint64_t parameter_bytes;
} exg_model_info;

EXG_API exg_status exg_model_create(exg_backend* backend, const exg_model_params* params, exg_model** out);
EXG_API void exg_model_free(exg_model* model);
EXG_API exg_status exg_model_get_info(const exg_model* model, exg_model_info* out);

/* Where a shard's last prefill/decode step spent its time, in seconds of host wall clock: what the
 * profiler needs to split a layer into attention and the rest (the paper's XProfiler tables). The parts
 * are measured only while step timing is enabled, because timing them synchronises the backend around
 * every attention call; otherwise they are 0 and only total_seconds is filled. */
typedef struct exg_step_timings {
    uint32_t struct_size;
    int32_t layers;             /* layers the step ran */
    int64_t tokens;             /* tokens it processed (sum of the batch's lengths) */
    double total_seconds;       /* the whole step, validation to the last result */
    double attention_seconds;   /* the attention kernels of every layer */
    double layer_rest_seconds;  /* the rest of the layers: norms, projections, FFN, residuals */
    double all_reduce_seconds;  /* tensor-parallel all-reduces */
    double outside_layers_seconds; /* embeddings, LM head, transfers between host and backend */
} exg_step_timings;

EXG_API exg_status exg_model_set_step_timing(exg_model* model, uint8_t enabled);
EXG_API exg_status exg_model_last_step_timings(const exg_model* model, exg_step_timings* out);

/* Writes a whole model (one shard covering every layer, tp_size 1) as a Hugging Face OPT
 * checkpoint: <dir>/config.json and <dir>/model.safetensors in the given dtype. */
EXG_API exg_status exg_model_save_checkpoint(const exg_model* model, const char* dir, int32_t dtype);

/* ---------------------------------------------------------------------------------------------- */
/* KV cache: per-sequence slots of one model shard                                                 */
/* ---------------------------------------------------------------------------------------------- */

typedef struct exg_kv_cache exg_kv_cache;

typedef struct exg_kv_cache_params {
    uint32_t struct_size;
    int32_t max_slots;   /* sequences that can be live at once */
    int32_t max_seq_len; /* tokens per slot; <= config.max_positions */
} exg_kv_cache_params;

EXG_API exg_status exg_kv_cache_create(exg_model* model, const exg_kv_cache_params* params, exg_kv_cache** out);
EXG_API void exg_kv_cache_free(exg_kv_cache* cache);
/* Takes the lowest free slot (length 0). EXG_ERR_CAPACITY when all are taken. */
EXG_API exg_status exg_kv_cache_alloc_slot(exg_kv_cache* cache, int32_t* slot_out);
EXG_API exg_status exg_kv_cache_free_slot(exg_kv_cache* cache, int32_t slot);
EXG_API exg_status exg_kv_cache_seq_len(const exg_kv_cache* cache, int32_t slot, int32_t* len_out);
/* Moves live slots down to 0..live-1 keeping their order (early termination leaves holes);
 * new_slot_of[old] receives the new slot of each old slot, -1 for free ones (max_slots entries). */
EXG_API exg_status exg_kv_cache_compact(exg_kv_cache* cache, int32_t* new_slot_of, int32_t max_slots,
                                        int32_t* live_out);

/* KV hand-off (WAA): a sequence's keys and values move between caches as a blob holding one part, a
 * layer range x a head range in ABSOLUTE model indices, so the sending and receiving shards may cut the
 * model differently (an encoder with every layer at tp 1, decoder stages at tp n). A cache holds layers
 * [layer_begin, layer_end) of its shard and, at tp rank r of n, heads [r*heads/n, (r+1)*heads/n).
 * The blob (a versioned header, then the rows) is only meant for exg_kv_cache_import. */
typedef struct exg_kv_part {
    uint32_t struct_size;
    int32_t layer_begin; /* absolute model layers [layer_begin, layer_end) */
    int32_t layer_end;
    int32_t head_begin;  /* absolute attention heads [head_begin, head_end) */
    int32_t head_end;
} exg_kv_part;

/* The part this cache holds (everything it can export or import); out->struct_size must be set. */
EXG_API exg_status exg_kv_cache_whole_part(const exg_kv_cache* cache, exg_kv_part* out);
/* Exports the whole part of one sequence. Query the size first. */
EXG_API exg_status exg_kv_cache_export_size(const exg_kv_cache* cache, int32_t slot, uint64_t* bytes_out);
EXG_API exg_status exg_kv_cache_export(const exg_kv_cache* cache, int32_t slot, void* dst, uint64_t capacity,
                                       uint64_t* written_out);
/* Exports part of one sequence; the part must be non-empty and lie inside the cache's whole part
 * (EXG_ERR_INVALID_ARGUMENT otherwise). EXG_ERR_CAPACITY when capacity is below the size. */
EXG_API exg_status exg_kv_cache_export_part_size(const exg_kv_cache* cache, int32_t slot, const exg_kv_part* part,
                                                 uint64_t* bytes_out);
EXG_API exg_status exg_kv_cache_export_part(const exg_kv_cache* cache, int32_t slot, const exg_kv_part* part, void* dst,
                                            uint64_t capacity, uint64_t* written_out);
/* Writes a blob's rows into an allocated slot and sets the slot's length to the blob's seq_len. The
 * blob's layers and heads must lie inside this cache's whole part and its head_dim match; otherwise, or
 * when it is truncated or not a blob of this version, EXG_ERR_FORMAT naming what differs (the slot is
 * left untouched). A blob covering the whole cache replaces the slot. A smaller part fills its rows
 * only: import every part of a sequence into an empty slot; parts must agree on seq_len
 * (EXG_ERR_INVALID_ARGUMENT otherwise), and rows no part covered keep what they held. */
EXG_API exg_status exg_kv_cache_import(exg_kv_cache* cache, int32_t slot, const void* src, uint64_t bytes);

/* ---------------------------------------------------------------------------------------------- */
/* Execution                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/* A ragged batch: sequence i appends seq_lens[i] new tokens to KV slot slots[i]; its rows are
 * consecutive in token_ids / hidden_in / hidden_out (no padding). */
typedef struct exg_batch {
    uint32_t struct_size;
    int32_t num_seqs;
    const int32_t* slots;     /* [num_seqs] */
    const int32_t* seq_lens;  /* [num_seqs]; decode: NULL or all 1 */
    const int32_t* token_ids; /* first stage: [sum(seq_lens)] */
    const float* hidden_in;   /* other stages: [sum(seq_lens) x hidden_size] */
    float* hidden_out;        /* non-last stages: [sum(seq_lens) x hidden_size] */
    float* logits_out;        /* last stage: [num_seqs x vocab_size], each sequence's last token; NULL: kept on
                               * the backend for exg_model_sample */
} exg_batch;

/* Prefill (encode): any lengths >= 1. */
EXG_API exg_status exg_model_prefill(exg_model* model, exg_kv_cache* cache, const exg_batch* batch);
/* Decode one step: one token per sequence. */
EXG_API exg_status exg_model_decode(exg_model* model, exg_kv_cache* cache, const exg_batch* batch);

/* ---------------------------------------------------------------------------------------------- */
/* Sampling                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

typedef struct exg_sampling_params {
    uint32_t struct_size;
    uint8_t greedy;    /* argmax (lowest index on ties); the fields below are then ignored */
    uint8_t reserved[3];
    float temperature; /* > 0 */
    int32_t top_k;     /* <= 0: no limit */
    float top_p;       /* (0, 1]; 1: no limit */
} exg_sampling_params;

/* Seeds a per-sequence random stream (a stream index keeps sequences of one seed independent). */
EXG_API uint64_t exg_rng_init(uint64_t seed, uint64_t stream);

/* Picks one token per row of logits [rows x vocab]; rng_states[rows] advance. */
EXG_API exg_status exg_sample(const float* logits, int32_t rows, int32_t vocab, const exg_sampling_params* params,
                              uint64_t* rng_states, int32_t* tokens_out);

/* Samples one token per sequence from the logits of the shard's last step (a last stage), on the
 * backend: the step may then pass logits_out = NULL so the logits never leave the device. Same rule and
 * random streams as exg_sample; tokens_out[num_seqs] and rng_states[num_seqs] are host arrays. */
EXG_API exg_status exg_model_sample(exg_model* model, const exg_sampling_params* params, uint64_t* rng_states,
                                    int32_t* tokens_out);

/* ---------------------------------------------------------------------------------------------- */
/* ABI layout (generated table): lets bindings verify struct sizes and field offsets at test time. */
/* ---------------------------------------------------------------------------------------------- */

EXG_API exg_status exg_abi_struct_size(const char* struct_name, uint64_t* size_out);
EXG_API exg_status exg_abi_field_offset(const char* struct_name, const char* field_name, uint64_t* offset_out);

#ifdef __cplusplus
}
#endif

#endif /* EXEGPT_EXEGPT_H */
