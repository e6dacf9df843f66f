#include "api/guard.h"
#include "sampling/sampler.h"

using namespace exg;

extern "C" {

EXG_API uint64_t exg_rng_init(uint64_t seed, uint64_t stream) { return rng_init(seed, stream); }

EXG_API exg_status exg_sample(const float* logits, int32_t rows, int32_t vocab, const exg_sampling_params* params,
                              uint64_t* rng_states, int32_t* tokens_out) {
    return guard([&] {
        require_arg(logits, "exg_sample", "logits");
        require_struct(params, "exg_sample", "params");
        require_arg(tokens_out, "exg_sample", "tokens_out");
        require(rows > 0 && vocab > 0, EXG_ERR_INVALID_ARGUMENT, "exg_sample: rows (", rows, ") and vocab (", vocab,
                ") must be positive");
        require(params->greedy || rng_states != nullptr, EXG_ERR_INVALID_ARGUMENT,
                "exg_sample: rng_states is null (needed unless greedy)");
        validate_sampling(*params);
        thread_local Sampler sampler;
        uint64_t unused = 0;
        for (int32_t r = 0; r < rows; ++r)
            tokens_out[r] = sampler.sample(logits + static_cast<int64_t>(r) * vocab, vocab, *params,
                                           params->greedy ? unused : rng_states[r]);
    });
}

}  // extern "C"
