// Collectives of one tensor-parallel group. The host implementation joins ranks that run as threads
// of one process; a GPU implementation (NCCL) sits behind the same interface.
#pragma once

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
    // Every rank's data becomes the elementwise sum over ranks; all ranks call with the same count.
    // Throws Error(EXG_ERR_COMM) on timeout, abort or mismatched calls — never hangs.
    virtual void all_reduce_sum(float* data, size_t count) = 0;
    // Fails every pending and future collective of the group (a rank gave up).
    virtual void abort() = 0;
};

// world_size communicators sharing one host group; timeout_ms 0 means 60 s.
std::vector<std::unique_ptr<Communicator>> create_host_group(int world_size, uint32_t timeout_ms);

}  // namespace exg
