#include "api/guard.h"
#include "api/handles.h"
#include "sampling/sampler.h"
#include "io/tensor_source.h"

using namespace exg;

namespace {

exg_status run_step(exg_model* model, exg_kv_cache* cache, const exg_batch* batch, bool decode, const char* fn) {
    return guard([&] {
        require_arg(model, fn, "model");
        require_arg(cache, fn, "cache");
        require_struct(batch, fn, "batch");
        require(cache->model == model->state, EXG_ERR_INVALID_ARGUMENT, fn, ": the kv cache belongs to another model");
        std::lock_guard<std::mutex> lock(model->state->mu);
        model->state->impl->forward(*cache->impl, *batch, decode);
    });
}

}  // namespace

extern "C" {

EXG_API exg_status exg_model_create(exg_backend* backend, const exg_model_params* params, exg_model** out) {
    return guard([&] {
        require_arg(backend, "exg_model_create", "backend");
        require_struct(params, "exg_model_create", "params");
        require_arg(out, "exg_model_create", "out");
        *out = nullptr;
        ShardSpec spec{params->config, params->layer_begin, params->layer_end, params->tp_rank, params->tp_size};
        auto state = std::make_shared<ModelState>();
        state->backend = backend->impl;
        if (params->comm != nullptr) {
            // An NCCL communicator runs on its backend's device and stream: the shard must use that backend.
            require(params->comm->backend == nullptr || params->comm->backend == backend->impl, EXG_ERR_INVALID_ARGUMENT,
                    "exg_model_create: the communicator belongs to another backend than the model's");
            state->comm = params->comm->impl;
        }
        std::unique_ptr<TensorSource> source;
        if (params->checkpoint_dir != nullptr) source = std::make_unique<CheckpointTensorSource>(params->checkpoint_dir);
        else source = std::make_unique<RandomTensorSource>(params->seed);
        std::shared_ptr<const KernelLibrary> kernels;
        {
            std::lock_guard<std::mutex> lock(backend->kernels_mu);
            kernels = backend->kernels;
        }
        state->impl = std::make_unique<Transformer>(state->backend.get(), spec, *source, state->comm.get(), std::move(kernels));
        *out = new exg_model{std::move(state)};
    });
}

EXG_API void exg_model_free(exg_model* model) { delete model; }

EXG_API exg_status exg_model_get_info(const exg_model* model, exg_model_info* out) {
    return guard([&] {
        require_arg(model, "exg_model_get_info", "model");
        require_struct(out, "exg_model_get_info", "out");
        const auto& t = *model->state->impl;
        const auto& s = t.spec();
        out->config = s.config;
        out->layer_begin = s.layer_begin;
        out->layer_end = s.layer_end;
        out->tp_rank = s.tp_rank;
        out->tp_size = s.tp_size;
        out->is_first_stage = s.first_stage();
        out->is_last_stage = s.last_stage();
        out->local_heads = s.local_heads();
        out->parameter_bytes = t.weights().bytes();
    });
}

EXG_API exg_status exg_model_set_step_timing(exg_model* model, uint8_t enabled) {
    return guard([&] {
        require_arg(model, "exg_model_set_step_timing", "model");
        std::lock_guard<std::mutex> lock(model->state->mu);
        model->state->impl->set_step_timing(enabled != 0);
    });
}

EXG_API exg_status exg_model_last_step_timings(const exg_model* model, exg_step_timings* out) {
    return guard([&] {
        require_arg(model, "exg_model_last_step_timings", "model");
        require_struct(out, "exg_model_last_step_timings", "out");
        std::lock_guard<std::mutex> lock(model->state->mu);
        const uint32_t size = out->struct_size;
        *out = model->state->impl->last_step_timings();
        out->struct_size = size;
    });
}

EXG_API exg_status exg_model_save_checkpoint(const exg_model* model, const char* dir, int32_t dtype) {
    return guard([&] {
        require_arg(model, "exg_model_save_checkpoint", "model");
        require_arg(dir, "exg_model_save_checkpoint", "dir");
        const auto& t = *model->state->impl;
        save_checkpoint(t.backend(), t.spec(), t.weights(), dir, static_cast<exg_dtype>(dtype));
    });
}

EXG_API exg_status exg_model_prefill(exg_model* model, exg_kv_cache* cache, const exg_batch* batch) {
    return run_step(model, cache, batch, false, "exg_model_prefill");
}

EXG_API exg_status exg_model_decode(exg_model* model, exg_kv_cache* cache, const exg_batch* batch) {
    return run_step(model, cache, batch, true, "exg_model_decode");
}

EXG_API exg_status exg_model_sample(exg_model* model, const exg_sampling_params* params, uint64_t* rng_states,
                                    int32_t* tokens_out) {
    return guard([&] {
        require_arg(model, "exg_model_sample", "model");
        require_struct(params, "exg_model_sample", "params");
        require_arg(tokens_out, "exg_model_sample", "tokens_out");
        require(params->greedy || rng_states != nullptr, EXG_ERR_INVALID_ARGUMENT,
                "exg_model_sample: rng_states is null (needed unless greedy)");
        validate_sampling(*params);
        std::lock_guard<std::mutex> lock(model->state->mu);
        model->state->impl->sample(*params, rng_states, tokens_out);
    });
}

}  // extern "C"
