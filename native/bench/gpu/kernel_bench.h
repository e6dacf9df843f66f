// The op-level benchmarks of exegpt-gpu-bench, through the internal Backend interface (backend/backend.h)
// exactly as the transformer calls it. Each returns JSON rows; the throughput definitions match
// bench/gpu/peers.py so bench/gpu/merge.py can put them side by side.
#pragma once

#include "bench_util.h"

#include <nlohmann/json.hpp>

namespace exg::gpubench {

// Device-to-device copy of o.copy_bytes: GB/s = (bytes read + bytes written) / time, the denominator of the
// decode-attention target and of the decode roofline.
nlohmann::ordered_json bench_copy(Backend& backend, const Options& o);

// Causal prefill attention (past = 0) and prefill over a cached prefix of the same length (past = length),
// head_dim x prefill_heads, batch = max(1, prefill_tokens / length). TFLOP/s counts 4 x head_dim FLOPs per
// (query, key) pair attended, the causal square counted as half (the FlashAttention convention).
nlohmann::ordered_json bench_prefill_attention(Backend& backend, const Options& o);

// Decode attention (one query per sequence over `context` cached positions). GB/s counts the K and V of
// the whole context plus q and out; working sets smaller than 256 MiB rotate over several caches so the
// L2 cache cannot serve them.
nlohmann::ordered_json bench_decode_attention(Backend& backend, const Options& o);

// The FFN GEMMs of an OPT-13B layer (fc1, fc2) at each m, plain and with the bias+ReLU epilogue.
nlohmann::ordered_json bench_gemm(Backend& backend, const Options& o);

}  // namespace exg::gpubench
