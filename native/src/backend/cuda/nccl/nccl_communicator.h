// The NCCL communicator on a device and stream, without the backend: create_nccl_comm (nccl_comm.h)
// passes the CudaBackend's; the GPU check program (tests/native/gpu/nccl_check.cpp) passes its own.
#pragma once

#include "comm/communicator.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

namespace exg::cuda {

// See create_nccl_comm. `stream` must outlive the communicator.
// Never hangs: NCCL init, every collective and every send/recv is followed by a wait polled against a
// deadline of timeout_ms (0: 60 s). A timeout or an NCCL error aborts the communicator (ncclCommAbort)
// and throws Error(EXG_ERR_COMM) naming the operation, the rank and the world size; a CUDA error seen
// while waiting aborts it too and throws Error(EXG_ERR_DEVICE). Every call after an abort fails at once.
// Invalid arguments (null data, zero count or bytes, a dtype other than F32/F16/BF16, a peer outside the
// group or equal to the rank) throw Error(EXG_ERR_INVALID_ARGUMENT) and leave the communicator usable.
std::unique_ptr<Communicator> make_nccl_communicator(int device, cudaStream_t stream, const uint8_t* unique_id,
                                                     int32_t world_size, int32_t rank, uint32_t timeout_ms);

}  // namespace exg::cuda
