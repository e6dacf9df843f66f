// End-to-end decode of an OPT-13B-shaped model through the C ABI (exg_model_prefill / exg_model_decode /
// exg_model_sample with the logits kept on the device), the way bench/gpu/peers.py times the Hugging Face
// generate loop: decode tokens/s = batch x (new_tokens - 1) / (time of the decode steps), the first new
// token coming out of the prefill.
#pragma once

#include "bench_util.h"

#include <nlohmann/json.hpp>

namespace exg::gpubench {

// copy_gbps (read + write bytes per second / 1e9, from bench_copy) sets the memory-bandwidth roofline:
// tokens/s = batch / ((weight bytes + KV bytes read per step) / copy bandwidth).
nlohmann::ordered_json bench_decode_model(const Options& o, double copy_gbps);

}  // namespace exg::gpubench
