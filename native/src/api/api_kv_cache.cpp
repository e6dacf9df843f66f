#include "api/guard.h"
#include "api/handles.h"

using namespace exg;

namespace {

// Cache bookkeeping shares the model's lock: a step in flight on another thread must not see slots move.
template <class F>
exg_status with_cache(const char* fn, const exg_kv_cache* cache, F&& body) {
    return guard([&] {
        require_arg(cache, fn, "cache");
        std::lock_guard<std::mutex> lock(cache->model->mu);
        body(*cache->impl);
    });
}

KvPart to_part(const exg_kv_part* part, const char* fn) {
    require_struct(part, fn, "part");
    return {part->layer_begin, part->layer_end, part->head_begin, part->head_end};
}

}  // namespace

extern "C" {

EXG_API exg_status exg_kv_cache_create(exg_model* model, const exg_kv_cache_params* params, exg_kv_cache** out) {
    return guard([&] {
        require_arg(model, "exg_kv_cache_create", "model");
        require_struct(params, "exg_kv_cache_create", "params");
        require_arg(out, "exg_kv_cache_create", "out");
        *out = nullptr;
        const auto& t = *model->state->impl;
        require(params->max_seq_len <= t.spec().config.max_positions, EXG_ERR_INVALID_ARGUMENT,
                "exg_kv_cache_create: max_seq_len ", params->max_seq_len, " exceeds the model's ",
                t.spec().config.max_positions, " positions");
        auto handle = std::make_unique<exg_kv_cache>();
        handle->model = model->state;
        handle->impl = std::make_unique<KvCache>(t.backend(), t.kv_shape(), params->max_slots, params->max_seq_len);
        *out = handle.release();
    });
}

EXG_API void exg_kv_cache_free(exg_kv_cache* cache) { delete cache; }

EXG_API exg_status exg_kv_cache_alloc_slot(exg_kv_cache* cache, int32_t* slot_out) {
    return with_cache("exg_kv_cache_alloc_slot", cache, [&](KvCache& c) {
        require_arg(slot_out, "exg_kv_cache_alloc_slot", "slot_out");
        *slot_out = c.alloc_slot();
    });
}

EXG_API exg_status exg_kv_cache_free_slot(exg_kv_cache* cache, int32_t slot) {
    return with_cache("exg_kv_cache_free_slot", cache, [&](KvCache& c) { c.free_slot(slot); });
}

EXG_API exg_status exg_kv_cache_seq_len(const exg_kv_cache* cache, int32_t slot, int32_t* len_out) {
    return with_cache("exg_kv_cache_seq_len", cache, [&](KvCache& c) {
        require_arg(len_out, "exg_kv_cache_seq_len", "len_out");
        *len_out = c.seq_len(slot);
    });
}

EXG_API exg_status exg_kv_cache_compact(exg_kv_cache* cache, int32_t* new_slot_of, int32_t max_slots, int32_t* live_out) {
    return with_cache("exg_kv_cache_compact", cache, [&](KvCache& c) {
        require(new_slot_of == nullptr || max_slots >= c.max_slots(), EXG_ERR_INVALID_ARGUMENT,
                "exg_kv_cache_compact: new_slot_of has ", max_slots, " entries, the cache has ", c.max_slots(), " slots");
        const int32_t live = c.compact(new_slot_of);
        if (live_out != nullptr) *live_out = live;
    });
}

EXG_API exg_status exg_kv_cache_export_size(const exg_kv_cache* cache, int32_t slot, uint64_t* bytes_out) {
    return with_cache("exg_kv_cache_export_size", cache, [&](KvCache& c) {
        require_arg(bytes_out, "exg_kv_cache_export_size", "bytes_out");
        *bytes_out = c.export_size(slot, c.whole());
    });
}

EXG_API exg_status exg_kv_cache_export(const exg_kv_cache* cache, int32_t slot, void* dst, uint64_t capacity,
                                       uint64_t* written_out) {
    return with_cache("exg_kv_cache_export", cache, [&](KvCache& c) {
        const uint64_t n = c.export_to(slot, c.whole(), dst, capacity);
        if (written_out != nullptr) *written_out = n;
    });
}

EXG_API exg_status exg_kv_cache_whole_part(const exg_kv_cache* cache, exg_kv_part* out) {
    return with_cache("exg_kv_cache_whole_part", cache, [&](KvCache& c) {
        require_struct(out, "exg_kv_cache_whole_part", "out");
        const KvPart all = c.whole();
        out->layer_begin = all.layer_begin;
        out->layer_end = all.layer_end;
        out->head_begin = all.head_begin;
        out->head_end = all.head_end;
    });
}

EXG_API exg_status exg_kv_cache_export_part_size(const exg_kv_cache* cache, int32_t slot, const exg_kv_part* part,
                                                 uint64_t* bytes_out) {
    return with_cache("exg_kv_cache_export_part_size", cache, [&](KvCache& c) {
        require_arg(bytes_out, "exg_kv_cache_export_part_size", "bytes_out");
        *bytes_out = c.export_size(slot, to_part(part, "exg_kv_cache_export_part_size"));
    });
}

EXG_API exg_status exg_kv_cache_export_part(const exg_kv_cache* cache, int32_t slot, const exg_kv_part* part, void* dst,
                                            uint64_t capacity, uint64_t* written_out) {
    return with_cache("exg_kv_cache_export_part", cache, [&](KvCache& c) {
        const uint64_t n = c.export_to(slot, to_part(part, "exg_kv_cache_export_part"), dst, capacity);
        if (written_out != nullptr) *written_out = n;
    });
}

EXG_API exg_status exg_kv_cache_import(exg_kv_cache* cache, int32_t slot, const void* src, uint64_t bytes) {
    return with_cache("exg_kv_cache_import", cache, [&](KvCache& c) { c.import_from(slot, src, bytes); });
}

}  // extern "C"
