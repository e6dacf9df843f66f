// The part of the NCCL C API the engine uses. NCCL is loaded at run time (nccl_loader.h), so nothing
// here links against it. Built against a real nccl.h (CMake finds one under EXEGPT_NCCL_ROOT or in the
// nvidia-nccl wheel and defines EXG_HAVE_NCCL_H), the types come from it and the values written below
// are checked against it; without one, the types are declared here from the NCCL documentation
// (docs.nvidia.com/deeplearning/nccl, "Types" and "Communicator Creation and Management Functions").
// Values that the ABI fixes: ncclUniqueId is 128 bytes; ncclSuccess 0 ... ncclInProgress 7 (NCCL 2.14+);
// ncclInt8 0, ncclUint8 1, ncclFloat16 6, ncclFloat32 7, ncclBfloat16 9; ncclSum 0.
#pragma once

#include <cstddef>
#include <type_traits>

#if defined(EXG_HAVE_NCCL_H)
#include <nccl.h>
#else
// The stream handle exactly as cuda_runtime.h declares it (a redeclaration of the same typedef is
// allowed), so this header needs no CUDA headers: the loader and its test build without CUDA.
struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

extern "C" {
typedef struct ncclComm* ncclComm_t;
typedef struct {
    char internal[128];
} ncclUniqueId;
typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7
} ncclResult_t;
typedef enum { ncclInt8 = 0, ncclUint8 = 1, ncclFloat16 = 6, ncclFloat32 = 7, ncclBfloat16 = 9 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
}
#endif

namespace exg::cuda {

// The documented values, written independently of nccl.h so a build against the real header proves them.
namespace nccl_values {
constexpr size_t unique_id_bytes = 128;
constexpr int success = 0, in_progress = 7;
constexpr int int8 = 0, uint8 = 1, float16 = 6, float32 = 7, bfloat16 = 9;
constexpr int sum = 0;
}  // namespace nccl_values

static_assert(sizeof(ncclUniqueId) == nccl_values::unique_id_bytes, "ncclUniqueId is 128 bytes");
static_assert(ncclSuccess == nccl_values::success && ncclInProgress == nccl_values::in_progress, "ncclResult_t");
static_assert(ncclInt8 == nccl_values::int8 && ncclUint8 == nccl_values::uint8 && ncclFloat16 == nccl_values::float16 &&
                  ncclFloat32 == nccl_values::float32 && ncclBfloat16 == nccl_values::bfloat16,
              "ncclDataType_t");
static_assert(ncclSum == nccl_values::sum, "ncclRedOp_t");

// Function types of the entry points, resolved by name with dlsym.
using NcclGetVersionFn = ncclResult_t (*)(int* version);
using NcclGetUniqueIdFn = ncclResult_t (*)(ncclUniqueId* id);
using NcclCommInitRankFn = ncclResult_t (*)(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank);
using NcclCommAbortFn = ncclResult_t (*)(ncclComm_t comm);
using NcclCommDestroyFn = ncclResult_t (*)(ncclComm_t comm);
using NcclCommGetAsyncErrorFn = ncclResult_t (*)(ncclComm_t comm, ncclResult_t* async_error);
using NcclGetErrorStringFn = const char* (*)(ncclResult_t result);
using NcclAllReduceFn = ncclResult_t (*)(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                                         ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
using NcclSendFn = ncclResult_t (*)(const void* sendbuff, size_t count, ncclDataType_t datatype, int peer,
                                    ncclComm_t comm, cudaStream_t stream);
using NcclRecvFn = ncclResult_t (*)(void* recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                                    cudaStream_t stream);
// Optional: NCCL 2.13+ (last error text), 2.14+ (finalize; the config-taking init is typed in the loader
// only where ncclConfig_t is known, i.e. with the real header).
using NcclGetLastErrorFn = const char* (*)(ncclComm_t comm);

#if defined(EXG_HAVE_NCCL_H)
// The real prototypes must have exactly these types (a wrong one would corrupt the call through dlsym).
static_assert(std::is_same_v<NcclGetVersionFn, decltype(&::ncclGetVersion)> &&
                  std::is_same_v<NcclGetUniqueIdFn, decltype(&::ncclGetUniqueId)> &&
                  std::is_same_v<NcclCommInitRankFn, decltype(&::ncclCommInitRank)> &&
                  std::is_same_v<NcclCommAbortFn, decltype(&::ncclCommAbort)> &&
                  std::is_same_v<NcclCommDestroyFn, decltype(&::ncclCommDestroy)> &&
                  std::is_same_v<NcclCommGetAsyncErrorFn, decltype(&::ncclCommGetAsyncError)> &&
                  std::is_same_v<NcclGetErrorStringFn, decltype(&::ncclGetErrorString)> &&
                  std::is_same_v<NcclAllReduceFn, decltype(&::ncclAllReduce)> &&
                  std::is_same_v<NcclSendFn, decltype(&::ncclSend)> && std::is_same_v<NcclRecvFn, decltype(&::ncclRecv)>,
              "NCCL prototypes");
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
// Non-blocking communicators need ncclConfig_t, whose layout changes between versions: only the real
// header describes it, so only a build against one can use them.
#define EXG_NCCL_NONBLOCKING 1
using NcclCommInitRankConfigFn = ncclResult_t (*)(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank,
                                                  ncclConfig_t* config);
static_assert(std::is_same_v<NcclCommInitRankConfigFn, decltype(&::ncclCommInitRankConfig)> &&
                  std::is_same_v<NcclGetLastErrorFn, decltype(&::ncclGetLastError)>,
              "NCCL 2.14 prototypes");
#endif
#endif

}  // namespace exg::cuda
