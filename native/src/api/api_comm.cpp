#include "api/guard.h"
#include "api/handles.h"

#include <vector>

using namespace exg;

extern "C" {

EXG_API exg_status exg_comm_create_host_group(int32_t world_size, uint32_t timeout_ms, exg_comm** comms_out) {
    return guard([&] {
        require_arg(comms_out, "exg_comm_create_host_group", "comms_out");
        auto comms = create_host_group(world_size, timeout_ms);
        std::vector<std::unique_ptr<exg_comm>> handles;
        for (auto& c : comms) handles.push_back(std::make_unique<exg_comm>(exg_comm{std::move(c)}));
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
        comm->impl->all_reduce_sum(data, count);
    });
}

EXG_API void exg_comm_abort(exg_comm* comm) {
    if (comm != nullptr) comm->impl->abort();
}

}  // extern "C"
