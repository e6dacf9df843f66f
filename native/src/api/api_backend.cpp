#include "api/guard.h"
#include "api/handles.h"
#include "backend/backend_registry.h"
#include "backend/cpu/cpu_backend.h"

#include <mutex>
#include <string>

using namespace exg;

extern "C" {

EXG_API exg_status exg_backend_create(const exg_backend_params* params, exg_backend** out) {
    return guard([&] {
        require_struct(params, "exg_backend_create", "params");
        require_arg(out, "exg_backend_create", "out");
        *out = nullptr;
        auto handle = std::make_unique<exg_backend>();
        handle->impl = create_backend(*params);
        *out = handle.release();
    });
}

EXG_API void exg_backend_free(exg_backend* backend) { delete backend; }

EXG_API const char* exg_backend_name(const exg_backend* backend) {
    return backend != nullptr && backend->impl ? backend->impl->name() : "";
}

EXG_API uint8_t exg_backend_available(int32_t kind) {
    try {
        return backend_available(kind) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

EXG_API const char* exg_backend_unavailable_reason(int32_t kind) {
    try {
        return backend_unavailable_reason(kind).c_str();  // static lifetime: probed once per process
    } catch (...) {
        return "the backend could not be probed";
    }
}

EXG_API int32_t exg_backend_dtype(const exg_backend* backend) {
    return backend != nullptr && backend->impl ? static_cast<int32_t>(backend->impl->dtype()) : -1;
}

EXG_API exg_status exg_backend_device_info(const exg_backend* backend, exg_device_info* out) {
    return guard([&] {
        require_arg(backend, "exg_backend_device_info", "backend");
        require_struct(out, "exg_backend_device_info", "out");
        exg_device_info info{};
        info.struct_size = sizeof(exg_device_info);
        backend->impl->device_info(info);
        info.struct_size = sizeof(exg_device_info);
        *out = info;
    });
}

EXG_API exg_status exg_backend_load_kernel_library(exg_backend* backend, const char* path) {
    return guard([&] {
        require_arg(backend, "exg_backend_load_kernel_library", "backend");
        require_arg(path, "exg_backend_load_kernel_library", "path");
        // The ops' pointers are host memory; a device backend needs a device-side plug-in ABI first.
        const auto* cpu = dynamic_cast<const CpuBackend*>(backend->impl.get());
        require(cpu != nullptr, EXG_ERR_UNSUPPORTED, "kernel library ", path, ": kernel plug-ins run on the cpu backend only, not on ",
                backend->impl->name());
        std::lock_guard<std::mutex> lock(backend->kernels_mu);
        if (backend->kernels != nullptr)
            fail(EXG_ERR_INVALID_ARGUMENT, "kernel library ", path, ": the backend already runs kernel library '",
                 backend->kernels->name(), "' (", backend->kernels->path(), "); create another backend for another library");
        backend->kernels = KernelLibrary::load(path, cpu->num_threads());
    });
}

EXG_API const char* exg_backend_kernel_library_name(const exg_backend* backend) {
    if (backend == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(backend->kernels_mu);
    return backend->kernels != nullptr ? backend->kernels->name().c_str() : nullptr;
}

EXG_API uint32_t exg_backend_kernel_ops(const exg_backend* backend) {
    if (backend == nullptr) return EXG_KERNEL_OP_NONE;
    std::lock_guard<std::mutex> lock(backend->kernels_mu);
    return backend->kernels != nullptr ? backend->kernels->ops() : static_cast<uint32_t>(EXG_KERNEL_OP_NONE);
}

EXG_API exg_status exg_host_buffer_alloc(exg_backend* backend, uint64_t bytes, exg_host_buffer** out) {
    return guard([&] {
        require_arg(backend, "exg_host_buffer_alloc", "backend");
        require_arg(out, "exg_host_buffer_alloc", "out");
        require(bytes > 0, EXG_ERR_INVALID_ARGUMENT, "exg_host_buffer_alloc: bytes must be positive");
        *out = nullptr;
        auto handle = std::make_unique<exg_host_buffer>();
        handle->backend = backend->impl;
        handle->data = backend->impl->alloc_host(bytes);
        handle->size = bytes;
        *out = handle.release();
    });
}

EXG_API void exg_host_buffer_free(exg_host_buffer* buffer) {
    if (buffer == nullptr) return;
    buffer->backend->free_host(buffer->data);
    delete buffer;
}

EXG_API void* exg_host_buffer_data(exg_host_buffer* buffer) { return buffer != nullptr ? buffer->data : nullptr; }

EXG_API uint64_t exg_host_buffer_size(const exg_host_buffer* buffer) { return buffer != nullptr ? buffer->size : 0; }

}  // extern "C"
