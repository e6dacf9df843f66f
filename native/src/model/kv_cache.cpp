#include "model/kv_cache.h"

#include "core/error.h"

#include <cstring>

namespace exg {
namespace {

// Export blob header: the receiving cache checks the shape before accepting the bytes.
struct KvBlobHeader {
    char magic[8];  // "EXGKV02\0"
    int32_t layers, heads, head_dim, seq_len;
    int32_t layer_begin, tp_rank, tp_size, reserved;
};
constexpr char kMagic[8] = {'E', 'X', 'G', 'K', 'V', '0', '2', '\0'};

}  // namespace

KvCache::KvCache(Backend* backend, KvShape shape, int32_t max_slots, int32_t max_seq_len)
    : backend_(backend), shape_(shape), max_slots_(max_slots), max_seq_len_(max_seq_len) {
    require(max_slots > 0, EXG_ERR_INVALID_ARGUMENT, "kv cache: max_slots must be positive, got ", max_slots);
    require(max_seq_len > 0, EXG_ERR_INVALID_ARGUMENT, "kv cache: max_seq_len must be positive, got ", max_seq_len);
    size_t elems = checked_mul(static_cast<size_t>(shape.layers), static_cast<size_t>(max_slots), "kv cache size");
    elems = checked_mul(elems, static_cast<size_t>(shape.heads) * static_cast<size_t>(shape.head_dim), "kv cache size");
    elems = checked_mul(elems, static_cast<size_t>(max_seq_len), "kv cache size");
    const size_t bytes = checked_mul(elems, sizeof(float), "kv cache size");
    ensure_memory(*backend, checked_mul(bytes, 2, "kv cache size"), "the kv cache (keys and values)");
    k_ = Buffer(backend, bytes);
    v_ = Buffer(backend, bytes);
    lens_.assign(static_cast<size_t>(max_slots), -1);
}

void KvCache::check_slot(int32_t slot, const char* what) const {
    require(slot >= 0 && slot < max_slots_, EXG_ERR_INVALID_ARGUMENT, what, ": slot ", slot, " is out of range [0, ",
            max_slots_, ")");
    require(lens_[static_cast<size_t>(slot)] >= 0, EXG_ERR_INVALID_ARGUMENT, what, ": slot ", slot, " is not allocated");
}

int32_t KvCache::alloc_slot() {
    for (int32_t s = 0; s < max_slots_; ++s) {
        if (lens_[static_cast<size_t>(s)] < 0) {
            lens_[static_cast<size_t>(s)] = 0;
            return s;
        }
    }
    fail(EXG_ERR_CAPACITY, "kv cache: all ", max_slots_, " slots are in use");
}

void KvCache::free_slot(int32_t slot) {
    check_slot(slot, "kv cache free");
    lens_[static_cast<size_t>(slot)] = -1;
}

int32_t KvCache::seq_len(int32_t slot) const {
    check_slot(slot, "kv cache");
    return lens_[static_cast<size_t>(slot)];
}

int32_t KvCache::compact(int32_t* new_slot_of) {
    int32_t live = 0;
    const size_t slot_bytes = static_cast<size_t>(slot_stride()) * sizeof(float);
    for (int32_t s = 0; s < max_slots_; ++s) {
        if (lens_[static_cast<size_t>(s)] < 0) {
            if (new_slot_of) new_slot_of[s] = -1;
            continue;
        }
        if (s != live) {
            for (int32_t l = 0; l < shape_.layers; ++l) {
                backend_->copy(keys(l) + live * slot_stride(), keys(l) + s * slot_stride(), slot_bytes);
                backend_->copy(values(l) + live * slot_stride(), values(l) + s * slot_stride(), slot_bytes);
            }
            lens_[static_cast<size_t>(live)] = lens_[static_cast<size_t>(s)];
            lens_[static_cast<size_t>(s)] = -1;
        }
        if (new_slot_of) new_slot_of[s] = live;
        ++live;
    }
    return live;
}

uint64_t KvCache::export_size(int32_t slot) const {
    const uint64_t len = static_cast<uint64_t>(seq_len(slot));
    return sizeof(KvBlobHeader) + 2ull * shape_.layers * shape_.heads * len * shape_.head_dim * sizeof(float);
}

uint64_t KvCache::export_to(int32_t slot, void* dst, uint64_t capacity) const {
    const uint64_t size = export_size(slot);
    require(dst != nullptr, EXG_ERR_INVALID_ARGUMENT, "kv cache export: dst is null");
    require(capacity >= size, EXG_ERR_CAPACITY, "kv cache export: slot ", slot, " needs ", size, " bytes, buffer has ",
            capacity);
    KvBlobHeader h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.layers = shape_.layers;
    h.heads = shape_.heads;
    h.head_dim = shape_.head_dim;
    h.seq_len = lens_[static_cast<size_t>(slot)];
    h.layer_begin = shape_.layer_begin;
    h.tp_rank = shape_.tp_rank;
    h.tp_size = shape_.tp_size;
    auto* out = static_cast<uint8_t*>(dst);
    std::memcpy(out, &h, sizeof h);
    out += sizeof h;
    const size_t row_bytes = static_cast<size_t>(h.seq_len) * shape_.head_dim * sizeof(float);
    for (int32_t l = 0; l < shape_.layers; ++l) {
        for (const float* base : {keys(l), values(l)}) {
            for (int32_t head = 0; head < shape_.heads; ++head) {
                backend_->download(out, base + slot * slot_stride() + head * head_stride(), row_bytes);
                out += row_bytes;
            }
        }
    }
    return size;
}

void KvCache::import_from(int32_t slot, const void* src, uint64_t bytes) {
    check_slot(slot, "kv cache import");
    require(src != nullptr, EXG_ERR_INVALID_ARGUMENT, "kv cache import: src is null");
    KvBlobHeader h{};
    require(bytes >= sizeof h, EXG_ERR_FORMAT, "kv cache import: ", bytes, " bytes is shorter than the blob header");
    std::memcpy(&h, src, sizeof h);
    require(std::memcmp(h.magic, kMagic, sizeof kMagic) == 0, EXG_ERR_FORMAT,
            "kv cache import: not an exegpt kv blob (bad magic)");
    require(h.layers == shape_.layers && h.heads == shape_.heads && h.head_dim == shape_.head_dim, EXG_ERR_FORMAT,
            "kv cache import: blob shape (layers ", h.layers, ", heads ", h.heads, ", head_dim ", h.head_dim,
            ") does not match this cache (layers ", shape_.layers, ", heads ", shape_.heads, ", head_dim ",
            shape_.head_dim, ")");
    require(h.layer_begin == shape_.layer_begin && h.tp_rank == shape_.tp_rank && h.tp_size == shape_.tp_size,
            EXG_ERR_FORMAT, "kv cache import: blob comes from layers starting at ", h.layer_begin, ", tp rank ", h.tp_rank,
            "/", h.tp_size, " but this cache holds layers starting at ", shape_.layer_begin, ", tp rank ", shape_.tp_rank,
            "/", shape_.tp_size);
    require(h.seq_len >= 0 && h.seq_len <= max_seq_len_, EXG_ERR_CAPACITY, "kv cache import: blob holds ", h.seq_len,
            " tokens but slots hold at most ", max_seq_len_);
    const size_t row_bytes = static_cast<size_t>(h.seq_len) * shape_.head_dim * sizeof(float);
    const uint64_t expected = sizeof h + 2ull * shape_.layers * shape_.heads * row_bytes;
    require(bytes == expected, EXG_ERR_FORMAT, "kv cache import: blob is ", bytes, " bytes, its header implies ", expected);
    const auto* in = static_cast<const uint8_t*>(src) + sizeof h;
    for (int32_t l = 0; l < shape_.layers; ++l) {
        for (float* base : {keys(l), values(l)}) {
            for (int32_t head = 0; head < shape_.heads; ++head) {
                backend_->upload(base + slot * slot_stride() + head * head_stride(), in, row_bytes);
                in += row_bytes;
            }
        }
    }
    lens_[static_cast<size_t>(slot)] = h.seq_len;
}

}  // namespace exg
