// Creates backends by kind: the CPU backend is built in; the CUDA backend is loaded at run time.
#pragma once

#include "backend/backend.h"
#include "comm/communicator.h"

#include <exegpt/exegpt.h>

#include <memory>
#include <string>

// What libexegpt_cuda.so exports (C linkage, looked up with dlsym). Each catches everything: on failure
// it returns a non-OK status with a message in `error` (capacity bytes, NUL-terminated).
//   exg_status exg_cuda_backend_factory(const exg_backend_params* params, exg::Backend** out, char* error,
//       size_t capacity): EXG_ERR_UNSUPPORTED when this machine cannot have one (no device or driver, compute
//       capability below 8.0), EXG_ERR_INVALID_ARGUMENT for bad params, EXG_ERR_DEVICE / _OUT_OF_MEMORY when
//       the device fails.
//   exg_status exg_cuda_nccl_unique_id(uint8_t* id_out /*EXG_NCCL_UNIQUE_ID_BYTES*/, char* error, size_t capacity)
//   exg_status exg_cuda_nccl_comm_create(exg::Backend* backend, const uint8_t* unique_id, int32_t world_size,
//       int32_t rank, uint32_t timeout_ms, exg::Communicator** out, char* error, size_t capacity)
//       backend is a CudaBackend made by the factory above (the communicator uses its device and stream).
#define EXG_CUDA_BACKEND_FACTORY "exg_cuda_backend_factory"
#define EXG_CUDA_NCCL_UNIQUE_ID "exg_cuda_nccl_unique_id"
#define EXG_CUDA_NCCL_COMM_CREATE "exg_cuda_nccl_comm_create"

namespace exg {

using CudaBackendFactory = exg_status (*)(const exg_backend_params* params, Backend** out, char* error, size_t capacity);
using CudaNcclUniqueId = exg_status (*)(uint8_t* id_out, char* error, size_t capacity);
using CudaNcclCommCreate = exg_status (*)(Backend* backend, const uint8_t* unique_id, int32_t world_size, int32_t rank,
                                          uint32_t timeout_ms, Communicator** out, char* error, size_t capacity);

std::unique_ptr<Backend> create_backend(const exg_backend_params& params);
bool backend_available(int32_t kind);
// Why backend_available(kind) is false ("" when it is available); probed once per process.
const std::string& backend_unavailable_reason(int32_t kind);

// The NCCL entry points of the CUDA library (EXG_ERR_UNSUPPORTED naming why when it cannot be loaded).
std::unique_ptr<Communicator> create_nccl_comm(Backend& backend, const uint8_t* unique_id, int32_t world_size,
                                               int32_t rank, uint32_t timeout_ms);
void nccl_unique_id(uint8_t* id_out);

}  // namespace exg
