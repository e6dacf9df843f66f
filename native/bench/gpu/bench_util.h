// Shared pieces of exegpt-gpu-bench: its options, the timing rule, device buffers filled with random data.
#pragma once

#include "backend/backend.h"
#include "bench_common.h"

#include <exegpt/exegpt.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace exg::gpubench {

// Every shape list has the same default as bench/gpu/peers.py (run.sh passes the same lists to both).
struct Options {
    int32_t backend = EXG_BACKEND_CUDA;  // cpu: a small run of the program's own logic on a machine without GPU
    int32_t device = 0;
    int32_t dtype = EXG_DTYPE_BF16;
    std::vector<std::string> only;  // sections to run; empty: all
    int samples = 11;
    size_t copy_bytes = size_t{1} << 30;  // the copy section's buffers (--copy-mib)
    // prefill attention: batch = max(1, prefill_tokens / length) sequences of `length` tokens each
    std::vector<int> prefill_lengths = {512, 1024, 2048, 4096, 8192};
    int prefill_tokens = 8192;
    int prefill_heads = 32;
    int head_dim = 128;
    // decode attention (OPT-13B heads)
    std::vector<int> decode_batches = {1, 4, 16, 64, 256};
    std::vector<int> decode_contexts = {512, 1024, 2048, 4096, 8192};
    int decode_heads = 40;
    // FFN GEMMs (OPT-13B: fc1 [m x hidden] x [ffn x hidden]^T, fc2 [m x ffn] x [hidden x ffn]^T)
    std::vector<int> gemm_m = {1, 16, 128, 512, 2048, 8192};
    int hidden = 5120;
    int ffn = 20480;
    // end-to-end decode of an OPT-13B-shaped model
    std::string model = "opt-13b";  // the preset when no checkpoint is given
    std::vector<int> e2e_batches = {1, 4, 16, 32, 64, 128};
    int prompt_len = 128;
    int new_tokens = 128;    // >= 2: the first comes from the prefill
    int layers = 0;          // 0: the preset's
    std::string checkpoint;  // Hugging Face directory (the peer's save_pretrained); empty: seeded random weights
    int rounds = 2;          // measured generation rounds per batch (after one warm-up round)
    std::string out;

    bool runs(const std::string& section) const;
    // The backend to create, through the C ABI or the internal registry (the CPU takes its default dtype).
    exg_backend_params backend_params() const;
};

using bench::median;

// Seconds per call: `samples` samples, each of `inner` back-to-back calls between two synchronisations,
// with inner chosen (after one warm-up call and one probe call) so a sample holds about target_s of work.
// Launch and metadata-staging costs count as the engine pays them; one synchronisation per sample does not.
// call(i) gets a running call index (for rotating over buffer sets).
struct Timing {
    double seconds;  // median per call
    int inner;
    int samples;
};
Timing time_calls(Backend& backend, const std::function<void(int64_t)>& call, int samples, double target_s = 0.01);

// `count` storage-dtype elements of uniform(-scale, scale) noise: one random block uploaded through
// upload_f32, then doubled by device copies (multi-GB caches fill in milliseconds; a 1 Mi-element period is
// irrelevant to speed).
void fill_random(Backend& backend, void* dst, int64_t count, uint32_t seed, float scale = 1.0f);

}  // namespace exg::gpubench
