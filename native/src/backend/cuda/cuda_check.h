// CUDA runtime errors as exg::Error, the same way in every CUDA file: the message names the failed call
// (and what it was for) and carries the runtime's description; an allocation failure is
// EXG_ERR_OUT_OF_MEMORY, anything else EXG_ERR_DEVICE.
//   check(cudaMemcpyAsync(...), "cudaMemcpyAsync", " of ", bytes, " bytes");
//   my_kernel<<<grid, block, 0, stream>>>(...); check_launch("my_kernel");
#pragma once

#include "backend/cuda/kernels.h"
#include "core/error.h"

#include <cuda_runtime.h>

namespace exg::cuda {

inline exg_status status_of(cudaError_t e) {
    return e == cudaErrorMemoryAllocation ? EXG_ERR_OUT_OF_MEMORY : EXG_ERR_DEVICE;
}

template <class... Context>
[[noreturn]] void fail_cuda(cudaError_t e, const char* call, const Context&... context) {
    // A failed call is also recorded as the thread's last error: clear it so the next check_launch does
    // not report it a second time. (Sticky errors of a corrupted context cannot be cleared; they come back
    // from every later call, which is what they should do.)
    (void)cudaGetLastError();
    fail(status_of(e), call, context..., " failed: ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ")");
}

template <class... Context>
inline void check(cudaError_t e, const char* call, const Context&... context) {
    if (e != cudaSuccess) fail_cuda(e, call, context...);
}

// After a launch: a bad configuration (grid, block, shared memory, no kernel image for this device) is
// reported here; faults during the kernel's execution surface at the next synchronising call.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), "launching ", kernel); }

// The kernels store F16 or BF16; any other DType value is the caller's bug.
inline void check_storage_dtype(DType dtype, const char* op) {
    require(dtype == DType::F16 || dtype == DType::BF16, EXG_ERR_INVALID_ARGUMENT, op, ": dtype ",
            static_cast<int32_t>(dtype), " is neither f16 (1) nor bf16 (2)");
}

}  // namespace exg::cuda
