// Creates backends by kind: the CPU backend is built in; the CUDA backend is loaded at run time.
#pragma once

#include "backend/backend.h"

#include <exegpt/exegpt.h>

#include <memory>

// Symbol the CUDA backend library exports: Backend* f(int32_t device, char* error, size_t capacity),
// returning null with a message in `error` when no usable device is present.
#define EXG_CUDA_BACKEND_FACTORY "exg_cuda_backend_factory"

namespace exg {

std::unique_ptr<Backend> create_backend(const exg_backend_params& params);
bool backend_available(int32_t kind);

}  // namespace exg
