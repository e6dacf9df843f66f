// An example kernel plug-in (include/exegpt/exegpt_kernels.h): causal attention over the KV cache in
// plain loops, FP32, one thread. Deliberately simple: it shows the ABI, not how to make attention fast,
// and the engine's profile of it shows how far a naive kernel sits below the roofline.
//
// Build: part of the native CMake build (libexegpt-example-kernels.so beside libexegpt). Use:
//   exegpt profile --model tiny --kernel-lib ./libexegpt-example-kernels.so --out tiny-example.json
#include <exegpt/exegpt_kernels.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <new>
#include <vector>

namespace {

// Every call, for tests that must prove the engine ran this kernel instead of its own.
std::atomic<uint64_t> g_attention_calls{0};

// Printf-style failure: the message goes into the engine's buffer, the status is returned.
template <class... Args>
int32_t reject(char* error, size_t capacity, const char* format, Args... args) {
    if (error != nullptr && capacity > 0) std::snprintf(error, capacity, format, args...);
    return EXG_ERR_INVALID_ARGUMENT;
}

int32_t check(const exg_attention_params* p, char* error, size_t capacity) {
    if (p == nullptr) return reject(error, capacity, "%s", "params is NULL");
    if (p->struct_size != sizeof(exg_attention_params))
        return reject(error, capacity, "params struct_size is %u, expected %zu", p->struct_size,
                      sizeof(exg_attention_params));
    if (p->num_seqs <= 0 || p->num_heads <= 0 || p->head_dim <= 0)
        return reject(error, capacity, "num_seqs %d, num_heads %d and head_dim %d must be positive", p->num_seqs,
                      p->num_heads, p->head_dim);
    if (p->slots == nullptr || p->q_start == nullptr || p->seq_lens == nullptr || p->past_lens == nullptr ||
        p->qkv == nullptr || p->out == nullptr || p->k_cache == nullptr || p->v_cache == nullptr)
        return reject(error, capacity, "%s", "a buffer is NULL");
    const int64_t width = static_cast<int64_t>(p->num_heads) * p->head_dim;
    if (p->qkv_stride < 3 * width || p->out_stride < width || p->head_stride < int64_t{p->kv_capacity} * p->head_dim ||
        p->slot_stride < p->num_heads * p->head_stride)
        return reject(error, capacity, "%s", "a stride is smaller than the rows it must hold");
    for (int32_t s = 0; s < p->num_seqs; ++s) {
        if (p->seq_lens[s] < 1 || p->past_lens[s] < 0 || p->past_lens[s] + p->seq_lens[s] > p->kv_capacity)
            return reject(error, capacity, "sequence %d: %d cached + %d new tokens do not fit a slot of %d", s,
                          p->past_lens[s], p->seq_lens[s], p->kv_capacity);
    }
    return 0;
}

void attend(const exg_attention_params* p) {
    const int64_t hd = p->head_dim, width = static_cast<int64_t>(p->num_heads) * hd;
    std::vector<float> scores;
    for (int32_t s = 0; s < p->num_seqs; ++s) {
        for (int32_t h = 0; h < p->num_heads; ++h) {
            float* keys = p->k_cache + p->slots[s] * p->slot_stride + h * p->head_stride;
            float* values = p->v_cache + p->slots[s] * p->slot_stride + h * p->head_stride;
            // Append this step's keys and values first: token i attends to itself.
            for (int32_t i = 0; i < p->seq_lens[s]; ++i) {
                const float* row = p->qkv + (p->q_start[s] + i) * p->qkv_stride;
                const int64_t pos = p->past_lens[s] + i;
                for (int64_t d = 0; d < hd; ++d) {
                    keys[pos * hd + d] = row[width + h * hd + d];
                    values[pos * hd + d] = row[2 * width + h * hd + d];
                }
            }
            for (int32_t i = 0; i < p->seq_lens[s]; ++i) {
                const int64_t row = p->q_start[s] + i;
                const float* q = p->qkv + row * p->qkv_stride + h * hd;
                const int32_t context = p->past_lens[s] + i + 1;
                scores.assign(static_cast<size_t>(context), 0.0f);
                float max_score = -INFINITY;
                for (int32_t j = 0; j < context; ++j) {
                    for (int64_t d = 0; d < hd; ++d) scores[j] += q[d] * keys[j * hd + d];
                    scores[j] *= p->scale;
                    if (scores[j] > max_score) max_score = scores[j];
                }
                float sum = 0.0f;
                for (int32_t j = 0; j < context; ++j) {
                    scores[j] = std::exp(scores[j] - max_score);
                    sum += scores[j];
                }
                float* out = p->out + row * p->out_stride + h * hd;
                for (int64_t d = 0; d < hd; ++d) {
                    float acc = 0.0f;
                    for (int32_t j = 0; j < context; ++j) acc += scores[j] * values[j * hd + d];
                    out[d] = acc / sum;
                }
            }
        }
    }
}

int32_t simple_attention(const exg_attention_params* p, char* error, size_t capacity) {
    if (const int32_t status = check(p, error, capacity); status != 0) return status;
    g_attention_calls.fetch_add(1, std::memory_order_relaxed);
    try {  // no exception may cross into the engine
        attend(p);
    } catch (const std::bad_alloc&) {
        if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", "out of memory for the scores");
        return EXG_ERR_OUT_OF_MEMORY;
    }
    return 0;
}

const exg_kernel_table kTable = {
    sizeof(exg_kernel_table),
    EXG_KERNEL_ABI_VERSION,
    "example-simple-attention",
    simple_attention,
    nullptr,  // the FFN stays the engine's
};

}  // namespace

extern "C" {

EXG_KERNEL_EXPORT const exg_kernel_table* exg_kernels_get(uint32_t abi_version) {
    return abi_version == EXG_KERNEL_ABI_VERSION ? &kTable : nullptr;
}

// Not part of the ABI: how many times the engine called this library's attention (every layer of every step).
EXG_KERNEL_EXPORT uint64_t exg_example_attention_calls(void) {
    return g_attention_calls.load(std::memory_order_relaxed);
}

}  // extern "C"
