// Per-sequence key/value cache of one model shard. Layout per K and V:
// [layer][slot][head][max_seq_len][head_dim], so one sequence's history for one head is contiguous
// (attention streams it) and a slot is a fixed block (compaction moves whole blocks).
//
// Hand-off (WAA): a slot exports any part (a layer range x a head range, absolute model indices) of
// what the cache holds, and imports any part that lies inside it, so an encoder shard and decoder
// shards may cut the model differently (other stages, other TP degrees).
#pragma once

#include "backend/backend.h"

#include <cstdint>
#include <vector>

namespace exg {

struct KvShape {
    int32_t layers, heads, head_dim;  // this shard's layers and TP-local heads
    int32_t layer_begin, tp_rank, tp_size;  // which shard
    // A TP rank holds a contiguous block of heads (the rows column-parallel Q/K/V slices give it).
    int32_t head_begin() const { return tp_rank * heads; }
};

// Absolute model layers [layer_begin, layer_end) x absolute heads [head_begin, head_end).
struct KvPart {
    int32_t layer_begin, layer_end, head_begin, head_end;
};

class KvCache {
public:
    KvCache(Backend* backend, KvShape shape, int32_t max_slots, int32_t max_seq_len);

    int32_t alloc_slot();
    void free_slot(int32_t slot);
    int32_t seq_len(int32_t slot) const;  // the slot must be allocated
    bool allocated(int32_t slot) const { return slot >= 0 && slot < max_slots_ && lens_[static_cast<size_t>(slot)] >= 0; }
    void advance(int32_t slot, int32_t tokens) { lens_[static_cast<size_t>(slot)] += tokens; }
    int32_t compact(int32_t* new_slot_of);  // returns live count

    KvPart whole() const;  // everything this cache holds
    uint64_t export_size(int32_t slot, const KvPart& part) const;
    uint64_t export_to(int32_t slot, const KvPart& part, void* dst, uint64_t capacity) const;
    // Writes the blob's rows of the slot and sets its length. A blob covering the whole cache replaces
    // the slot; a smaller one must agree on the length with earlier parts (or find the slot empty).
    void import_from(int32_t slot, const void* src, uint64_t bytes);

    const KvShape& shape() const { return shape_; }
    int32_t max_slots() const { return max_slots_; }
    int32_t max_seq_len() const { return max_seq_len_; }
    // One layer's keys / values (storage dtype), and a slot's block within them.
    void* keys(int32_t layer) const { return k_.at(layer * layer_stride()); }
    void* values(int32_t layer) const { return v_.at(layer * layer_stride()); }
    void* slot_data(void* layer_base, int32_t slot) const { return offset(layer_base, slot * slot_stride(), backend_->element_size()); }
    int64_t slot_stride() const { return static_cast<int64_t>(shape_.heads) * head_stride(); }
    int64_t head_stride() const { return static_cast<int64_t>(max_seq_len_) * shape_.head_dim; }

private:
    int64_t layer_stride() const { return static_cast<int64_t>(max_slots_) * slot_stride(); }
    void check_slot(int32_t slot, const char* what) const;
    void check_part(const KvPart& part, const char* what) const;

    Backend* backend_;
    KvShape shape_;
    int32_t max_slots_, max_seq_len_;
    Buffer k_, v_;
    std::vector<int32_t> lens_;  // -1: free
};

}  // namespace exg
