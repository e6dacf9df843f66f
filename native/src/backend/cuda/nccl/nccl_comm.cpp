#include "backend/cuda/nccl/nccl_comm.h"

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/nccl/nccl_communicator.h"

namespace exg::cuda {

std::unique_ptr<exg::Communicator> create_nccl_comm(CudaBackend& backend, const uint8_t* id, int32_t world_size,
                                                    int32_t rank, uint32_t timeout_ms) {
    return make_nccl_communicator(backend.device(), backend.stream(), id, world_size, rank, timeout_ms);
}

}  // namespace exg::cuda
