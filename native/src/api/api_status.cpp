#include "api/guard.h"

namespace exg {
namespace {
thread_local std::string g_last_error;
}

void set_last_error(const std::string& message) {
    try {
        g_last_error = message;
    } catch (...) {
        // Out of memory while recording an error: keep the status, lose the text.
    }
}

void clear_last_error() { g_last_error.clear(); }

}  // namespace exg

extern "C" {

EXG_API uint32_t exg_api_version(void) { return EXG_API_VERSION; }

EXG_API const char* exg_last_error_message(void) { return exg::g_last_error.c_str(); }

EXG_API const char* exg_status_name(exg_status status) {
    switch (status) {
        case EXG_OK: return "EXG_OK";
        case EXG_ERR_INVALID_ARGUMENT: return "EXG_ERR_INVALID_ARGUMENT";
        case EXG_ERR_IO: return "EXG_ERR_IO";
        case EXG_ERR_FORMAT: return "EXG_ERR_FORMAT";
        case EXG_ERR_OUT_OF_MEMORY: return "EXG_ERR_OUT_OF_MEMORY";
        case EXG_ERR_UNSUPPORTED: return "EXG_ERR_UNSUPPORTED";
        case EXG_ERR_CAPACITY: return "EXG_ERR_CAPACITY";
        case EXG_ERR_COMM: return "EXG_ERR_COMM";
        case EXG_ERR_INTERNAL: return "EXG_ERR_INTERNAL";
        case EXG_ERR_DEVICE: return "EXG_ERR_DEVICE";
    }
    return "EXG_ERR_UNKNOWN";
}

}  // extern "C"
