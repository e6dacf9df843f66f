// Opens NCCL at run time. Debian does not package NCCL and the GPU machine ships it inside a Python
// wheel, so the CUDA library never links it: the first NCCL use opens EXEGPT_NCCL_LIBRARY (a full
// path) when it is set, else libnccl.so.2, else libnccl.so from the library path, and resolves every
// entry point by name. Plain C++ (no CUDA): the loader's test builds without CUDA.
#pragma once

#include "backend/cuda/nccl/nccl_api.h"

#include <string>

namespace exg::cuda {

// The environment variable that names the NCCL library to open.
constexpr const char* nccl_library_env = "EXEGPT_NCCL_LIBRARY";

struct NcclLibrary {
    std::string path;  // as given to dlopen
    int version = 0;   // ncclGetVersion: NCCL_VERSION(major, minor, patch)

    NcclGetVersionFn get_version = nullptr;
    NcclGetUniqueIdFn get_unique_id = nullptr;
    NcclCommInitRankFn comm_init_rank = nullptr;
    NcclCommAbortFn comm_abort = nullptr;
    NcclCommDestroyFn comm_destroy = nullptr;
    NcclCommGetAsyncErrorFn comm_get_async_error = nullptr;
    NcclGetErrorStringFn get_error_string = nullptr;
    NcclAllReduceFn all_reduce = nullptr;
    NcclSendFn send = nullptr;
    NcclRecvFn recv = nullptr;
    // Null when the library predates them.
    NcclGetLastErrorFn get_last_error = nullptr;
#if defined(EXG_NCCL_NONBLOCKING)
    NcclCommInitRankConfigFn comm_init_rank_config = nullptr;
#endif

    // Non-blocking communicators: this build knows ncclConfig_t and the library is NCCL 2.14 or newer.
    bool nonblocking() const;
    // ncclGetErrorString, plus the library's last error text where it has one.
    std::string describe(ncclResult_t result, ncclComm_t comm) const;
};

// "2.19.3" from an NCCL_VERSION code (2.8 and older used X*1000 + Y*100 + Z, later X*10000 + Y*100 + Z).
std::string nccl_version_string(int code);

// Opens explicit_path alone when it is non-null and non-empty (the user's choice is never silently
// replaced by another NCCL), else libnccl.so.2, then libnccl.so. Error(EXG_ERR_UNSUPPORTED) names
// every file tried with dlopen's reason, or the entry points the library lacks, and how to fix it.
// The library stays open for the life of the process: helper threads may still be inside it.
NcclLibrary open_nccl_library(const char* explicit_path);

// The process's NCCL, opened on first use from $EXEGPT_NCCL_LIBRARY or the library path. Thread-safe;
// a failure is not remembered, so a later call retries (e.g. after the variable was set).
const NcclLibrary& nccl_library();

}  // namespace exg::cuda
