// The only symbols libexegpt_cuda.so exports (backend_registry.h lists them; libexegpt looks them up with
// dlsym). Each catches everything: no exception crosses into the loader, failures come back as null or a
// status with the reason in the caller's buffer.
#include "backend/backend_registry.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/nccl/nccl_comm.h"
#include "core/error.h"

#include <cstdio>

#define EXG_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

void write_error(char* error, size_t capacity, const char* message) {
    if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", message);
}

// Runs body; on an exception writes its message and returns its status.
template <class Body>
exg_status guarded(char* error, size_t capacity, Body&& body) noexcept {
    return exg::catch_status(body, [&](const char* message, bool) {
        write_error(error, capacity, message != nullptr ? message : "unknown exception in the CUDA backend library");
    });
}

}  // namespace

EXG_CUDA_EXPORT exg_status exg_cuda_backend_factory(const exg_backend_params* params, exg::Backend** out, char* error,
                                                    size_t capacity) noexcept {
    return guarded(error, capacity, [&] {
        exg::require(out != nullptr, EXG_ERR_INVALID_ARGUMENT, "backend factory: the output is null");
        *out = nullptr;
        exg::require(params != nullptr, EXG_ERR_INVALID_ARGUMENT, "backend params are null");
        exg::require(params->struct_size == sizeof(exg_backend_params), EXG_ERR_INVALID_ARGUMENT,
                     "backend params: struct_size is ", params->struct_size, ", expected ", sizeof(exg_backend_params));
        *out = new exg::cuda::CudaBackend(*params);
    });
}

EXG_CUDA_EXPORT exg_status exg_cuda_nccl_unique_id(uint8_t* id_out, char* error, size_t capacity) noexcept {
    return guarded(error, capacity, [&] {
        exg::require(id_out != nullptr, EXG_ERR_INVALID_ARGUMENT, "nccl unique id: the output is null");
        exg::cuda::nccl_unique_id(id_out);
    });
}

EXG_CUDA_EXPORT exg_status exg_cuda_nccl_comm_create(exg::Backend* backend, const uint8_t* unique_id,
                                                     int32_t world_size, int32_t rank, uint32_t timeout_ms,
                                                     exg::Communicator** out, char* error, size_t capacity) noexcept {
    return guarded(error, capacity, [&] {
        exg::require(out != nullptr && unique_id != nullptr, EXG_ERR_INVALID_ARGUMENT,
                     "nccl communicator: the unique id or the output is null");
        *out = nullptr;
        exg::cuda::CudaBackend* cuda = exg::cuda::CudaBackend::from(backend);
        exg::require(cuda != nullptr, EXG_ERR_INVALID_ARGUMENT,
                     "nccl communicator: the backend is not a CUDA backend of this library");
        *out = exg::cuda::create_nccl_comm(*cuda, unique_id, world_size, rank, timeout_ms).release();
    });
}
