// NCCL communicators of the CUDA backend (the entry points exports.cpp calls). NCCL is opened at run
// time (nccl_loader.h); without it both functions fail with Error(EXG_ERR_UNSUPPORTED) saying how to
// point EXEGPT_NCCL_LIBRARY at libnccl.so.2.
#pragma once

#include "comm/communicator.h"

#include <cstdint>
#include <memory>

namespace exg::cuda {

class CudaBackend;

// Writes a fresh ncclUniqueId (EXG_NCCL_UNIQUE_ID_BYTES = 128 bytes) that rank 0 hands to every rank.
void nccl_unique_id(uint8_t* id_out);

// One rank of an NCCL group on the backend's device; collectives and send/recv are ordered on the
// backend's compute stream (stream_ordered() is true) and return once they completed there. Every
// rank calls this (one thread or process per rank) with the same id and world_size; the call returns
// when all have joined, or fails with Error(EXG_ERR_COMM) after timeout_ms (0: 60 s).
std::unique_ptr<exg::Communicator> create_nccl_comm(CudaBackend& backend, const uint8_t* id, int32_t world_size,
                                                    int32_t rank, uint32_t timeout_ms);

}  // namespace exg::cuda
