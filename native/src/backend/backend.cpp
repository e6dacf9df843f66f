#include "backend/backend_registry.h"

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

#include <cstring>
#include <mutex>
#include <string>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

namespace exg {

namespace {

#if !defined(_WIN32)
// The CUDA backend lives in its own library beside libexegpt so a machine without CUDA never loads
// libcudart. Its exports are listed in backend_registry.h.
std::string library_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&library_dir), &info) == 0 || info.dli_fname == nullptr) return {};
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// Resolves one export of libexegpt_cuda.so (opened once); null with `why` when it cannot.
void* cuda_symbol(const char* symbol, std::string& why) {
    static void* handle = nullptr;
    static std::string load_error;
    static std::once_flag once;  // backends may be created from several threads at once
    std::call_once(once, [] {
        const std::string path = library_dir() + "libexegpt_cuda.so";
        handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            const char* e = dlerror();
            load_error = "the CUDA backend library could not be loaded (" + path + ": " + (e ? e : "unknown") +
                         "); it is built when CMake finds a CUDA compiler";
        }
    });
    if (handle == nullptr) {
        why = load_error;
        return nullptr;
    }
    void* f = dlsym(handle, symbol);
    if (f == nullptr) why = std::string("libexegpt_cuda.so does not export ") + symbol;
    return f;
}

template <class F>
F cuda_entry(const char* symbol) {
    std::string why;
    auto f = reinterpret_cast<F>(cuda_symbol(symbol, why));
    if (f == nullptr) fail(EXG_ERR_UNSUPPORTED, why);
    return f;
}
#endif

}  // namespace

void ensure_memory(const Backend& backend, size_t bytes, const char* what) {
    const size_t available = backend.available_memory();
    if (available != 0 && bytes > available)
        fail(EXG_ERR_OUT_OF_MEMORY, what, " need ", bytes / 1048576.0 / 1024.0, " GiB of ", backend.name(),
             " memory but only ", available / 1048576.0 / 1024.0, " GiB is available");
}

std::unique_ptr<Backend> create_backend(const exg_backend_params& p) {
    switch (p.kind) {
        case EXG_BACKEND_CPU:
            require(p.dtype == -1 || p.dtype == EXG_DTYPE_F32, EXG_ERR_UNSUPPORTED, "backend params: dtype ", p.dtype,
                    " on the CPU backend, which stores f32 only (dtype 0, or -1 for the default)");
            return std::make_unique<CpuBackend>(p.num_threads);
        case EXG_BACKEND_CUDA: {
#if !defined(_WIN32)
            auto factory = cuda_entry<CudaBackendFactory>(EXG_CUDA_BACKEND_FACTORY);
            char error[512] = {0};
            Backend* backend = nullptr;
            const exg_status status = factory(&p, &backend, error, sizeof error);
            if (status != EXG_OK || backend == nullptr)
                fail(status != EXG_OK ? status : EXG_ERR_INTERNAL, "CUDA backend unavailable: ", error);
            return std::unique_ptr<Backend>(backend);
#else
            fail(EXG_ERR_UNSUPPORTED, "the CUDA backend is not built for this platform yet");
#endif
        }
        default:
            fail(EXG_ERR_INVALID_ARGUMENT, "unknown backend kind ", p.kind, " (0 = cpu, 1 = cuda)");
    }
}

const std::string& backend_unavailable_reason(int32_t kind) {
    static const std::string none, unknown = "unknown backend kind";
    if (kind == EXG_BACKEND_CPU) return none;
    if (kind != EXG_BACKEND_CUDA) return unknown;
    // Probed once per process: creating a CUDA backend costs streams, a cuBLASLt handle and its workspace,
    // and neither the library nor the devices come or go while the process runs.
    static const std::string cuda = [] {
        try {
            exg_backend_params p{sizeof(exg_backend_params), EXG_BACKEND_CUDA, 0, 0, -1};
            create_backend(p);
            return std::string();
        } catch (const Error& e) {
            return std::string(e.what());
        } catch (...) {
            return std::string("the CUDA backend could not be probed");
        }
    }();
    return cuda;
}

bool backend_available(int32_t kind) { return backend_unavailable_reason(kind).empty(); }

std::unique_ptr<Communicator> create_nccl_comm(Backend& backend, const uint8_t* unique_id, int32_t world_size,
                                               int32_t rank, uint32_t timeout_ms) {
#if !defined(_WIN32)
    require(std::strcmp(backend.name(), "cuda") == 0, EXG_ERR_INVALID_ARGUMENT,
            "NCCL communicators need a CUDA backend, not the ", backend.name(), " backend");
    auto create = cuda_entry<CudaNcclCommCreate>(EXG_CUDA_NCCL_COMM_CREATE);
    char error[512] = {0};
    Communicator* comm = nullptr;
    const exg_status status = create(&backend, unique_id, world_size, rank, timeout_ms, &comm, error, sizeof error);
    if (status != EXG_OK || comm == nullptr) fail(status != EXG_OK ? status : EXG_ERR_INTERNAL, error);
    return std::unique_ptr<Communicator>(comm);
#else
    fail(EXG_ERR_UNSUPPORTED, "NCCL is not supported on this platform");
#endif
}

void nccl_unique_id(uint8_t* id_out) {
#if !defined(_WIN32)
    auto get = cuda_entry<CudaNcclUniqueId>(EXG_CUDA_NCCL_UNIQUE_ID);
    char error[512] = {0};
    const exg_status status = get(id_out, error, sizeof error);
    if (status != EXG_OK) fail(status, error);
#else
    fail(EXG_ERR_UNSUPPORTED, "NCCL is not supported on this platform");
#endif
}

}  // namespace exg
