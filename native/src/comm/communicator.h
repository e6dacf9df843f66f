// Collectives of one tensor-parallel group. The host implementation joins ranks that run as threads
// of one process; the NCCL implementation (in the CUDA backend's library) sits behind the same
// interface and works on device memory in stream order.
#pragma once

#include <exegpt/exegpt.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace exg {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // Every rank's data becomes the elementwise sum over ranks; all ranks call with the same count and
    // dtype. data is memory of the backend the communicator serves (host memory for the host group,
    // device memory for NCCL). Throws Error(EXG_ERR_COMM) on timeout, abort or mismatched calls —
    // never hangs; a communicator that timed out is aborted and fails every later call.
    virtual void all_reduce_sum(void* data, size_t count, exg_dtype dtype) = 0;
    // Point-to-point (pipeline stages): bytes to / from rank `peer` of this group. A send must meet
    // a recv of the same size on the peer.
    virtual void send(const void* data, size_t bytes, int peer) = 0;
    virtual void recv(void* data, size_t bytes, int peer) = 0;
    // True when collectives are ordered on the backend's stream (NCCL): the caller need not
    // synchronise the backend before one. False: data must be complete when the call starts.
    virtual bool stream_ordered() const { return false; }
    // Fails every pending and future collective of the group (a rank gave up).
    virtual void abort() = 0;
};

// world_size communicators sharing one host group; timeout_ms 0 means 60 s. Only F32 data.
std::vector<std::unique_ptr<Communicator>> create_host_group(int world_size, uint32_t timeout_ms);

}  // namespace exg
