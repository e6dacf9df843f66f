#include "api/guard.h"
#include "api/handles.h"
#include "backend/backend_registry.h"

#include <vector>

using namespace exg;

extern "C" {

EXG_API exg_status exg_comm_create_host_group(int32_t world_size, uint32_t timeout_ms, exg_comm** comms_out) {
    return guard([&] {
        require_arg(comms_out, "exg_comm_create_host_group", "comms_out");
        auto comms = create_host_group(world_size, timeout_ms);
        std::vector<std::unique_ptr<exg_comm>> handles;
        for (auto& c : comms) handles.push_back(std::make_unique<exg_comm>(exg_comm{nullptr, std::move(c)}));
        for (size_t i = 0; i < handles.size(); ++i) comms_out[i] = handles[i].release();
    });
}

EXG_API void exg_comm_free(exg_comm* comm) { delete comm; }

EXG_API int32_t exg_comm_rank(const exg_comm* comm) { return comm != nullptr ? comm->impl->rank() : -1; }

EXG_API int32_t exg_comm_size(const exg_comm* comm) { return comm != nullptr ? comm->impl->size() : 0; }

EXG_API exg_status exg_comm_all_reduce_sum_f32(exg_comm* comm, float* data, uint64_t count) {
    return guard([&] {
        require_arg(comm, "exg_comm_all_reduce_sum_f32", "comm");
        require(count == 0 || data != nullptr, EXG_ERR_INVALID_ARGUMENT, "exg_comm_all_reduce_sum_f32: data is null");
        // NCCL refuses a zero count; a host group takes it, so a peer passing another count is still told.
        if (count == 0 && comm->impl->stream_ordered()) return;
        comm->impl->all_reduce_sum(data, count, EXG_DTYPE_F32);
    });
}

EXG_API exg_status exg_comm_nccl_unique_id(uint8_t* id_out, uint64_t capacity) {
    return guard([&] {
        require_arg(id_out, "exg_comm_nccl_unique_id", "id_out");
        require(capacity >= EXG_NCCL_UNIQUE_ID_BYTES, EXG_ERR_INVALID_ARGUMENT, "exg_comm_nccl_unique_id: capacity ",
                capacity, " is below the ", EXG_NCCL_UNIQUE_ID_BYTES, " bytes of an id");
        nccl_unique_id(id_out);
    });
}

EXG_API exg_status exg_comm_create_nccl(exg_backend* backend, const uint8_t* unique_id, int32_t world_size, int32_t rank,
                                        uint32_t timeout_ms, exg_comm** out) {
    return guard([&] {
        require_arg(backend, "exg_comm_create_nccl", "backend");
        require_arg(unique_id, "exg_comm_create_nccl", "unique_id");
        require_arg(out, "exg_comm_create_nccl", "out");
        *out = nullptr;
        require(world_size >= 1, EXG_ERR_INVALID_ARGUMENT, "exg_comm_create_nccl: world_size must be positive, got ", world_size);
        require(rank >= 0 && rank < world_size, EXG_ERR_INVALID_ARGUMENT, "exg_comm_create_nccl: rank ", rank,
                " is outside [0, ", world_size, ")");
        auto handle = std::make_unique<exg_comm>();
        handle->impl = create_nccl_comm(*backend->impl, unique_id, world_size, rank, timeout_ms);
        handle->backend = backend->impl;
        *out = handle.release();
    });
}

EXG_API void exg_comm_abort(exg_comm* comm) {
    if (comm != nullptr) comm->impl->abort();
}

}  // extern "C"
