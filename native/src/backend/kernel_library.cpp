#include "backend/kernel_library.h"

#include "core/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#if !defined(_WIN32)
#include <dlfcn.h>
#include <sys/stat.h>
#endif

namespace exg {
namespace {

// Plug-in messages longer than this are cut; the engine's own messages are far shorter.
constexpr size_t kErrorCapacity = 1024;

// A plug-in reports an exg_status; anything else it returns is a bug on its side.
exg_status status_of(int32_t code) {
    return code >= EXG_ERR_INVALID_ARGUMENT && code <= EXG_ERR_INTERNAL ? static_cast<exg_status>(code)
                                                                          : EXG_ERR_INTERNAL;
}

// Runs one op. An exception the plug-in should not have let out becomes a failure like any other.
template <class Op>
int32_t invoke(Op&& op, char (&error)[kErrorCapacity]) {
    try {
        return op(error, sizeof error);
    } catch (...) {
        std::snprintf(error, sizeof error, "%s", "it threw a C++ exception (plug-ins must return a status instead)");
        return EXG_ERR_INTERNAL;
    }
}

}  // namespace

KernelLibrary::KernelLibrary(void* handle, const exg_kernel_table* table, std::string path, int32_t num_threads)
    : handle_(handle), table_(table), path_(std::move(path)), name_(table->name), num_threads_(num_threads) {}

KernelLibrary::~KernelLibrary() {
#if !defined(_WIN32)
    if (handle_ != nullptr) dlclose(handle_);
#endif
}

uint32_t KernelLibrary::ops() const {
    uint32_t ops = EXG_KERNEL_OP_NONE;
    if (has_attention()) ops |= EXG_KERNEL_OP_ATTENTION;
    if (has_ffn()) ops |= EXG_KERNEL_OP_FFN;
    return ops;
}

std::shared_ptr<KernelLibrary> KernelLibrary::load(const std::string& path, int32_t num_threads) {
    require(!path.empty(), EXG_ERR_INVALID_ARGUMENT, "kernel library: the path is empty");
#if defined(_WIN32)
    fail(EXG_ERR_UNSUPPORTED, "kernel library ", path, ": kernel plug-ins are not supported on Windows yet");
#else
    // dlopen's own failure for a missing file is a generic "cannot open shared object"; say which.
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        fail(EXG_ERR_IO, "kernel library ", path, ": ", std::strerror(errno));
    require(S_ISREG(info.st_mode), EXG_ERR_IO, "kernel library ", path, " is not a regular file");
    // A name without '/' would make dlopen search the library path instead of opening this file.
    const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        fail(EXG_ERR_FORMAT, "kernel library ", path, " could not be loaded: ", why != nullptr ? why : "unknown error");
    }
    try {
        auto get = reinterpret_cast<exg_kernels_get_fn>(dlsym(handle, EXG_KERNELS_GET_SYMBOL));
        require(get != nullptr, EXG_ERR_FORMAT, "kernel library ", path, " does not export ", EXG_KERNELS_GET_SYMBOL,
                " (see exegpt_kernels.h)");
        const exg_kernel_table* table = get(EXG_KERNEL_ABI_VERSION);
        require(table != nullptr, EXG_ERR_UNSUPPORTED, "kernel library ", path, " does not support kernel ABI version ",
                EXG_KERNEL_ABI_VERSION, " (", EXG_KERNELS_GET_SYMBOL, " returned NULL)");
        require(table->abi_version == EXG_KERNEL_ABI_VERSION && table->struct_size == sizeof(exg_kernel_table),
                EXG_ERR_UNSUPPORTED, "kernel library ", path, " returned a table of kernel ABI version ", table->abi_version,
                " with struct_size ", table->struct_size, "; this engine speaks version ", EXG_KERNEL_ABI_VERSION,
                " (struct_size ", sizeof(exg_kernel_table), ")");
        require(table->name != nullptr && table->name[0] != '\0', EXG_ERR_FORMAT, "kernel library ", path,
                ": its table has no name");
        require(table->attention != nullptr || table->ffn != nullptr, EXG_ERR_FORMAT, "kernel library ", path, " ('",
                table->name, "') provides no op: attention and ffn are both NULL");
        return std::shared_ptr<KernelLibrary>(new KernelLibrary(handle, table, path, num_threads));
    } catch (...) {
        dlclose(handle);
        throw;
    }
#endif
}

void KernelLibrary::check(const char* op, int32_t code, char* error) const {
    if (code == 0) return;
    error[kErrorCapacity - 1] = '\0';  // a plug-in that filled the buffer without a terminator
    std::string message = "kernel library '" + name_ + "': " + op + " failed";
    if (error[0] != '\0') message += std::string(": ") + error;
    const exg_status status = status_of(code);
    if (status != code) message += " (it returned " + std::to_string(code) + ", which is not an exg_status)";
    throw Error(status, message);
}

void KernelLibrary::attention(const AttentionParams& p, int32_t layer, int32_t kv_capacity, bool decode) const {
    exg_attention_params a{};
    a.struct_size = sizeof a;
    a.num_seqs = p.num_seqs;
    a.slots = p.slot;
    a.q_start = p.q_start;
    a.seq_lens = p.len;
    a.past_lens = p.past;
    a.qkv = static_cast<const float*>(p.qkv);  // plug-ins run on the F32 CPU backend only
    a.qkv_stride = p.qkv_stride;
    a.out = static_cast<float*>(p.out);
    a.out_stride = p.out_stride;
    a.k_cache = static_cast<float*>(p.k_cache);
    a.v_cache = static_cast<float*>(p.v_cache);
    a.slot_stride = p.slot_stride;
    a.head_stride = p.head_stride;
    a.kv_capacity = kv_capacity;
    a.num_heads = p.num_heads;
    a.head_dim = p.head_dim;
    a.scale = p.scale;
    a.layer = layer;
    a.is_decode = decode ? 1 : 0;
    a.num_threads = num_threads_;
    char error[kErrorCapacity] = {0};
    check("attention", invoke([&](char* e, size_t capacity) { return table_->attention(&a, e, capacity); }, error), error);
}

void KernelLibrary::ffn(const exg_ffn_params& p) const {
    exg_ffn_params f = p;
    f.struct_size = sizeof f;
    f.num_threads = num_threads_;
    char error[kErrorCapacity] = {0};
    check("ffn", invoke([&](char* e, size_t capacity) { return table_->ffn(&f, e, capacity); }, error), error);
}

}  // namespace exg
