// A test kernel plug-in that replaces the FFN (the example replaces attention), so the tests cover both
// dispatch points, tensor-parallel partial sums included, and a failure injected on demand.
#include <exegpt/exegpt_kernels.h>

#include <atomic>
#include <cmath>
#include <cstdio>

namespace {

std::atomic<uint64_t> g_calls{0};
std::atomic<int32_t> g_fail_with{0};
std::atomic<int32_t> g_fc2_bias_seen{0};  // calls that got fc2's bias (tensor-parallel rank 0 only)

bool activate(int32_t activation, float& x) {
    switch (activation) {
        case EXG_ACT_RELU: x = x > 0.0f ? x : 0.0f; return true;
        case EXG_ACT_GELU: x = 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f))); return true;
        case EXG_ACT_GELU_TANH: {
            const float sqrt_2_over_pi = 0.7978845608f;
            x = 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
            return true;
        }
        case EXG_ACT_SILU: x = x / (1.0f + std::exp(-x)); return true;
        default: return false;
    }
}

int32_t naive_ffn(const exg_ffn_params* p, char* error, size_t capacity) {
    if (p == nullptr || p->struct_size != sizeof(exg_ffn_params)) {
        std::snprintf(error, capacity, "%s", "bad params");
        return EXG_ERR_INVALID_ARGUMENT;
    }
    g_calls.fetch_add(1);
    if (const int32_t code = g_fail_with.load(); code != 0) {
        std::snprintf(error, capacity, "injected failure in layer %d", p->layer);
        return code;
    }
    if (p->fc2_bias != nullptr) g_fc2_bias_seen.fetch_add(1);
    for (int64_t t = 0; t < p->tokens; ++t) {
        const float* x = p->x + t * p->x_stride;
        float* mid = p->workspace + t * p->ffn_dim;
        for (int64_t f = 0; f < p->ffn_dim; ++f) {
            float acc = p->fc1_bias != nullptr ? p->fc1_bias[f] : 0.0f;
            for (int64_t k = 0; k < p->hidden_size; ++k) acc += x[k] * p->fc1_weight[f * p->hidden_size + k];
            if (!activate(p->activation, acc)) {
                std::snprintf(error, capacity, "activation %d", p->activation);
                return EXG_ERR_UNSUPPORTED;
            }
            mid[f] = acc;
        }
        float* out = p->out + t * p->out_stride;
        for (int64_t o = 0; o < p->hidden_size; ++o) {
            float acc = p->fc2_bias != nullptr ? p->fc2_bias[o] : 0.0f;
            for (int64_t f = 0; f < p->ffn_dim; ++f) acc += mid[f] * p->fc2_weight[o * p->ffn_dim + f];
            out[o] = acc;
        }
    }
    return 0;
}

const exg_kernel_table kTable = {sizeof(exg_kernel_table), EXG_KERNEL_ABI_VERSION, "test-ffn", nullptr, naive_ffn};

}  // namespace

extern "C" {
EXG_KERNEL_EXPORT const exg_kernel_table* exg_kernels_get(uint32_t version) {
    return version == EXG_KERNEL_ABI_VERSION ? &kTable : nullptr;
}
EXG_KERNEL_EXPORT uint64_t exg_test_ffn_calls(void) { return g_calls.load(); }
EXG_KERNEL_EXPORT int32_t exg_test_ffn_bias_calls(void) { return g_fc2_bias_seen.load(); }
// Non-zero: every later call fails with this code (0 restores normal operation).
EXG_KERNEL_EXPORT void exg_test_ffn_fail_with(int32_t code) { g_fail_with.store(code); }
}
