#include "backend/backend_registry.h"

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

#include <mutex>
#include <string>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

namespace exg {
namespace {

#if !defined(_WIN32)
// The CUDA backend lives in its own library beside libexegpt so a machine without CUDA never loads
// libcudart. It exports one factory, EXG_CUDA_BACKEND_FACTORY.
using CudaFactory = Backend* (*)(int32_t device, char* error, size_t error_capacity);

std::string library_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&library_dir), &info) == 0 || info.dli_fname == nullptr) return {};
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

CudaFactory load_cuda_factory(std::string& why) {
    static void* handle = nullptr;
    static std::string load_error;
    static std::once_flag once;  // backends may be created from several threads at once
    std::call_once(once, [] {
        const std::string path = library_dir() + "libexegpt_cuda.so";
        handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            const char* e = dlerror();
            load_error = "the CUDA backend library could not be loaded (" + path + ": " + (e ? e : "unknown") + ")";
        }
    });
    if (handle == nullptr) {
        why = load_error;
        return nullptr;
    }
    auto factory = reinterpret_cast<CudaFactory>(dlsym(handle, EXG_CUDA_BACKEND_FACTORY));
    if (factory == nullptr) why = "libexegpt_cuda.so does not export " EXG_CUDA_BACKEND_FACTORY;
    return factory;
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
            return std::make_unique<CpuBackend>(p.num_threads);
        case EXG_BACKEND_CUDA: {
#if !defined(_WIN32)
            std::string why;
            CudaFactory factory = load_cuda_factory(why);
            if (factory == nullptr) fail(EXG_ERR_UNSUPPORTED, why);
            char error[512] = {0};
            Backend* backend = factory(p.device, error, sizeof error);
            if (backend == nullptr) fail(EXG_ERR_UNSUPPORTED, "CUDA backend unavailable: ", error);
            return std::unique_ptr<Backend>(backend);
#else
            fail(EXG_ERR_UNSUPPORTED, "the CUDA backend is not built for this platform yet");
#endif
        }
        default:
            fail(EXG_ERR_INVALID_ARGUMENT, "unknown backend kind ", p.kind, " (0 = cpu, 1 = cuda)");
    }
}

bool backend_available(int32_t kind) {
    if (kind == EXG_BACKEND_CPU) return true;
#if !defined(_WIN32)
    if (kind == EXG_BACKEND_CUDA) {
        try {
            exg_backend_params p{sizeof(exg_backend_params), EXG_BACKEND_CUDA, 0, 0};
            return create_backend(p) != nullptr;
        } catch (const Error&) {
            return false;
        }
    }
#endif
    return false;
}

}  // namespace exg
