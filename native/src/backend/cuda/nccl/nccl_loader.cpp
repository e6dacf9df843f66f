#include "backend/cuda/nccl/nccl_loader.h"

#include "core/error.h"

#include <cstdlib>
#include <mutex>
#include <sstream>
#include <vector>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

namespace exg::cuda {
namespace {

constexpr const char* how_to_fix =
    "set EXEGPT_NCCL_LIBRARY to the full path of libnccl.so.2 (for the nvidia-nccl-cu13 wheel: python3 -c "
    "\"import nvidia.nccl as m; print(list(m.__path__)[0] + '/lib/libnccl.so.2')\") or add its folder to "
    "LD_LIBRARY_PATH";

#if !defined(_WIN32)
// Resolves `symbol` into `fn`; a required one that is missing is added to `missing`.
template <class Fn>
void resolve(void* handle, const char* symbol, Fn& fn, std::vector<std::string>* missing) {
    fn = reinterpret_cast<Fn>(dlsym(handle, symbol));
    if (fn == nullptr && missing != nullptr) missing->push_back(symbol);
}

NcclLibrary bind(void* handle, const std::string& path) {
    NcclLibrary lib;
    lib.path = path;
    std::vector<std::string> missing;
    resolve(handle, "ncclGetVersion", lib.get_version, &missing);
    resolve(handle, "ncclGetUniqueId", lib.get_unique_id, &missing);
    resolve(handle, "ncclCommInitRank", lib.comm_init_rank, &missing);
    resolve(handle, "ncclCommAbort", lib.comm_abort, &missing);
    resolve(handle, "ncclCommDestroy", lib.comm_destroy, &missing);
    resolve(handle, "ncclCommGetAsyncError", lib.comm_get_async_error, &missing);
    resolve(handle, "ncclGetErrorString", lib.get_error_string, &missing);
    resolve(handle, "ncclAllReduce", lib.all_reduce, &missing);
    resolve(handle, "ncclSend", lib.send, &missing);
    resolve(handle, "ncclRecv", lib.recv, &missing);
    resolve(handle, "ncclGetLastError", lib.get_last_error, nullptr);
#if defined(EXG_NCCL_NONBLOCKING)
    resolve(handle, "ncclCommInitRankConfig", lib.comm_init_rank_config, nullptr);
#endif
    if (!missing.empty()) {
        std::ostringstream names;
        for (size_t i = 0; i < missing.size(); ++i) names << (i ? ", " : "") << missing[i];
        fail(EXG_ERR_UNSUPPORTED, path, " is not a usable NCCL library: it does not export ", names.str(),
             " (NCCL 2.7 or newer is needed); ", how_to_fix);
    }
    const ncclResult_t r = lib.get_version(&lib.version);
    require(r == ncclSuccess, EXG_ERR_UNSUPPORTED, path, ": ncclGetVersion failed (", lib.get_error_string(r), "); ",
            how_to_fix);
    return lib;
}
#endif

}  // namespace

bool NcclLibrary::nonblocking() const {
#if defined(EXG_NCCL_NONBLOCKING)
    return version >= NCCL_VERSION(2, 14, 0) && comm_init_rank_config != nullptr;
#else
    return false;
#endif
}

std::string NcclLibrary::describe(ncclResult_t result, ncclComm_t comm) const {
    std::string text = get_error_string(result);
    const char* last = get_last_error != nullptr ? get_last_error(comm) : nullptr;
    if (last != nullptr && last[0] != '\0') text += std::string(" (") + last + ")";
    return text;
}

std::string nccl_version_string(int code) {
    const bool old_scheme = code < 10000;  // NCCL 2.8 and older
    const int major = old_scheme ? code / 1000 : code / 10000;
    const int minor = old_scheme ? code / 100 % 10 : code / 100 % 100;
    std::ostringstream os;
    os << major << '.' << minor << '.' << code % 100;
    return os.str();
}

NcclLibrary open_nccl_library(const char* explicit_path) {
#if defined(_WIN32)
    (void)explicit_path;
    fail(EXG_ERR_UNSUPPORTED, "NCCL collectives are not supported on Windows");
#else
    const bool explicit_choice = explicit_path != nullptr && explicit_path[0] != '\0';
    const std::vector<std::string> candidates =
        explicit_choice ? std::vector<std::string>{explicit_path} : std::vector<std::string>{"libnccl.so.2", "libnccl.so"};
    std::ostringstream tried;
    for (const std::string& path : candidates) {
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle != nullptr) {
            try {
                return bind(handle, path);
            } catch (...) {
                dlclose(handle);
                throw;
            }
        }
        const char* why = dlerror();
        tried << (tried.tellp() > 0 ? "; " : "") << (why != nullptr ? why : path + ": unknown dlopen error");
    }
    if (explicit_choice)
        fail(EXG_ERR_UNSUPPORTED, "NCCL could not be loaded from ", nccl_library_env, "=", explicit_path, " (",
             tried.str(), "); point it at libnccl.so.2");
    fail(EXG_ERR_UNSUPPORTED, "NCCL could not be loaded (", tried.str(), "): ", how_to_fix);
#endif
}

const NcclLibrary& nccl_library() {
    static std::mutex mu;
    static const NcclLibrary* library = nullptr;  // never freed: helper threads may outlive static destruction
    std::lock_guard<std::mutex> lock(mu);
    if (library == nullptr) library = new NcclLibrary(open_nccl_library(std::getenv(nccl_library_env)));
    return *library;
}

}  // namespace exg::cuda
