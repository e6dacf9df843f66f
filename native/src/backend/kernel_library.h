// A user's kernel plug-in (include/exegpt/exegpt_kernels.h), opened with dlopen and bound to the CPU
// backend it was loaded into. The transformer calls it in place of the backend's attention or FFN; a
// plug-in's failure becomes an exg::Error carrying its status and message, like any engine failure.
#pragma once

#include "backend/backend.h"

#include <exegpt/exegpt_kernels.h>

#include <memory>
#include <string>

namespace exg {

class KernelLibrary {
public:
    // Opens, resolves and checks the library; every error names the path. num_threads is passed to the
    // plug-in's ops as the number the engine's own kernels would use.
    static std::shared_ptr<KernelLibrary> load(const std::string& path, int32_t num_threads);
    ~KernelLibrary();
    KernelLibrary(const KernelLibrary&) = delete;
    KernelLibrary& operator=(const KernelLibrary&) = delete;

    const std::string& name() const { return name_; }
    const std::string& path() const { return path_; }
    uint32_t ops() const;  // exg_kernel_op flags
    bool has_attention() const { return table_->attention != nullptr; }
    bool has_ffn() const { return table_->ffn != nullptr; }

    // The engine's attention op, translated to exg_attention_params (kv_capacity: positions per slot).
    void attention(const AttentionParams& p, int32_t layer, int32_t kv_capacity, bool decode) const;
    // out = fc2(act(fc1(x))); workspace holds [tokens x ffn_dim] floats. struct_size and num_threads are set here.
    void ffn(const exg_ffn_params& p) const;

private:
    KernelLibrary(void* handle, const exg_kernel_table* table, std::string path, int32_t num_threads);
    // Throws the plug-in's failure (code != 0) as an Error whose message starts with the library's name.
    void check(const char* op, int32_t code, char* error) const;

    void* handle_;
    const exg_kernel_table* table_;
    std::string path_, name_;
    int32_t num_threads_;
};

}  // namespace exg
