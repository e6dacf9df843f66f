// What the opaque C handles hold. Children keep their parents alive (shared_ptr), so a caller may
// free handles in any order without leaving a dangling backend or model behind.
#pragma once

#include "backend/backend.h"
#include "backend/kernel_library.h"
#include "comm/communicator.h"
#include "model/kv_cache.h"
#include "model/transformer.h"

#include <memory>
#include <mutex>

struct exg_backend {
    std::shared_ptr<exg::Backend> impl;
    // The plug-in models created from now on run (exg_backend_load_kernel_library); null: none.
    std::shared_ptr<const exg::KernelLibrary> kernels;
    mutable std::mutex kernels_mu;  // a load racing a model creation sees all of the library or none
};

struct exg_comm {
    // The backend whose device and stream an NCCL communicator uses (kept alive with it); null for host groups.
    // Declared first so it is destroyed last: the communicator's stream must outlive it.
    std::shared_ptr<exg::Backend> backend;
    std::shared_ptr<exg::Communicator> impl;
};

namespace exg {
struct ModelState {
    std::shared_ptr<Backend> backend;
    std::shared_ptr<Communicator> comm;
    std::unique_ptr<Transformer> impl;
    std::mutex mu;  // one step at a time per shard: the workspaces are shared
};
}  // namespace exg

struct exg_model {
    std::shared_ptr<exg::ModelState> state;
};

struct exg_kv_cache {
    std::shared_ptr<exg::ModelState> model;
    std::unique_ptr<exg::KvCache> impl;
};

struct exg_host_buffer {
    std::shared_ptr<exg::Backend> backend;
    void* data = nullptr;
    uint64_t size = 0;
};
