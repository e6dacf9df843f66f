// The activations of the GEMM epilogue (exg_activation) in F32, one function for the CPU backend, the
// CUDA epilogue kernel (backend/cuda/bias_activation.cu) and the emulated half-precision backend of the
// op harness. erff / tanhf / expf are the float functions std::erf / std::tanh / std::exp call on a float.
// (The reference backend keeps its own formulas in double: ref_activate, backend/ref/ref_backend.h.)
#pragma once

#include "core/host_device.h"

#include <exegpt/exegpt.h>

#include <cmath>
#include <cstdint>

namespace exg {

// An EXG_ACT_* activation of x; the identity for any other value (-1: none).
EXG_HOST_DEVICE inline float activate(float x, int32_t act) {
    switch (act) {
        case EXG_ACT_RELU: return x > 0.0f ? x : 0.0f;
        case EXG_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        case EXG_ACT_GELU_TANH: {
            const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
            return 0.5f * x * (1.0f + tanhf(inner));
        }
        case EXG_ACT_SILU: return x / (1.0f + expf(-x));
        default: return x;
    }
}

}  // namespace exg
