#include "model/kv_cache.h"

#include "core/dtype.h"
#include "core/error.h"

#include <cstring>

namespace exg {
namespace {

// Blob header: the part it holds in absolute model indices, so the receiver can place the rows
// whatever shard produced them. Rows follow: per layer, keys then values, per head seq_len x head_dim.
struct KvBlobHeader {
    char magic[8];
    uint32_t version;
    uint32_t dtype;  // exg_dtype of the cached values (the storage dtype of the backend that wrote them)
    int32_t layer_begin, layers;
    int32_t head_begin, heads;
    int32_t head_dim, seq_len;
};
constexpr char kMagic[8] = {'E', 'X', 'G', 'K', 'V', '\0', '\0', '\0'};
constexpr uint32_t kVersion = 4;  // 3 held F32 only, 2 whole shards only

bool inside(int32_t begin, int32_t end, int32_t outer_begin, int32_t outer_end) {
    return begin >= outer_begin && end <= outer_end && begin < end;
}

}  // namespace

KvCache::KvCache(Backend* backend, KvShape shape, int32_t max_slots, int32_t max_seq_len)
    : backend_(backend), shape_(shape), max_slots_(max_slots), max_seq_len_(max_seq_len) {
    require(max_slots > 0, EXG_ERR_INVALID_ARGUMENT, "kv cache: max_slots must be positive, got ", max_slots);
    require(max_seq_len > 0, EXG_ERR_INVALID_ARGUMENT, "kv cache: max_seq_len must be positive, got ", max_seq_len);
    size_t elems = checked_mul(static_cast<size_t>(shape.layers), static_cast<size_t>(max_slots), "kv cache size");
    elems = checked_mul(elems, static_cast<size_t>(shape.heads) * static_cast<size_t>(shape.head_dim), "kv cache size");
    elems = checked_mul(elems, static_cast<size_t>(max_seq_len), "kv cache size");
    const size_t bytes = checked_mul(elems, backend->element_size(), "kv cache size");
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
    const size_t slot_bytes = static_cast<size_t>(slot_stride()) * backend_->element_size();
    for (int32_t s = 0; s < max_slots_; ++s) {
        if (lens_[static_cast<size_t>(s)] < 0) {
            if (new_slot_of) new_slot_of[s] = -1;
            continue;
        }
        if (s != live) {
            for (int32_t l = 0; l < shape_.layers; ++l) {
                backend_->copy(slot_data(keys(l), live), slot_data(keys(l), s), slot_bytes);
                backend_->copy(slot_data(values(l), live), slot_data(values(l), s), slot_bytes);
            }
            lens_[static_cast<size_t>(live)] = lens_[static_cast<size_t>(s)];
            lens_[static_cast<size_t>(s)] = -1;
        }
        if (new_slot_of) new_slot_of[s] = live;
        ++live;
    }
    return live;
}

KvPart KvCache::whole() const {
    const int32_t head_begin = shape_.head_begin();
    return {shape_.layer_begin, shape_.layer_begin + shape_.layers, head_begin, head_begin + shape_.heads};
}

void KvCache::check_part(const KvPart& part, const char* what) const {
    const KvPart all = whole();
    require(inside(part.layer_begin, part.layer_end, all.layer_begin, all.layer_end), EXG_ERR_INVALID_ARGUMENT, what,
            ": part layers [", part.layer_begin, ", ", part.layer_end, ") are not a non-empty range inside this cache's layers [",
            all.layer_begin, ", ", all.layer_end, ")");
    require(inside(part.head_begin, part.head_end, all.head_begin, all.head_end), EXG_ERR_INVALID_ARGUMENT, what,
            ": part heads [", part.head_begin, ", ", part.head_end, ") are not a non-empty range inside this cache's heads [",
            all.head_begin, ", ", all.head_end, ")");
}

uint64_t KvCache::export_size(int32_t slot, const KvPart& part) const {
    const uint64_t len = static_cast<uint64_t>(seq_len(slot));
    check_part(part, "kv cache export");
    const uint64_t rows = 2ull * static_cast<uint64_t>(part.layer_end - part.layer_begin) *
                          static_cast<uint64_t>(part.head_end - part.head_begin);
    return sizeof(KvBlobHeader) + rows * len * static_cast<uint64_t>(shape_.head_dim) * backend_->element_size();
}

uint64_t KvCache::export_to(int32_t slot, const KvPart& part, void* dst, uint64_t capacity) const {
    const uint64_t size = export_size(slot, part);
    require(dst != nullptr, EXG_ERR_INVALID_ARGUMENT, "kv cache export: dst is null");
    require(capacity >= size, EXG_ERR_CAPACITY, "kv cache export: slot ", slot, " needs ", size, " bytes, buffer has ",
            capacity);
    KvBlobHeader h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.version = kVersion;
    h.dtype = static_cast<uint32_t>(backend_->dtype());
    h.layer_begin = part.layer_begin;
    h.layers = part.layer_end - part.layer_begin;
    h.head_begin = part.head_begin;
    h.heads = part.head_end - part.head_begin;
    h.head_dim = shape_.head_dim;
    h.seq_len = lens_[static_cast<size_t>(slot)];
    auto* out = static_cast<uint8_t*>(dst);
    std::memcpy(out, &h, sizeof h);
    out += sizeof h;
    // One strided copy per layer and K/V: the part's heads of the slot, each seq_len x head_dim.
    const size_t e = backend_->element_size();
    const size_t row_bytes = static_cast<size_t>(h.seq_len) * shape_.head_dim * e;
    const auto heads = static_cast<size_t>(h.heads);
    const int32_t first_head = part.head_begin - shape_.head_begin();
    for (int32_t l = part.layer_begin - shape_.layer_begin; l < part.layer_end - shape_.layer_begin; ++l) {
        for (void* base : {keys(l), values(l)}) {
            if (row_bytes > 0)
                backend_->download_2d(out, row_bytes, offset(slot_data(base, slot), first_head * head_stride(), e),
                                      static_cast<size_t>(head_stride()) * e, row_bytes, heads);
            out += row_bytes * heads;
        }
    }
    return size;
}

void KvCache::import_from(int32_t slot, const void* src, uint64_t bytes) {
    check_slot(slot, "kv cache import");
    require(src != nullptr, EXG_ERR_INVALID_ARGUMENT, "kv cache import: src is null");
    KvBlobHeader h{};
    require(bytes >= sizeof h, EXG_ERR_FORMAT, "kv cache import: ", bytes, " bytes is shorter than the ", sizeof h,
            "-byte blob header");
    std::memcpy(&h, src, sizeof h);
    require(std::memcmp(h.magic, kMagic, sizeof kMagic) == 0, EXG_ERR_FORMAT,
            "kv cache import: not an exegpt kv blob (bad magic)");
    require(h.version == kVersion, EXG_ERR_FORMAT, "kv cache import: blob version ", h.version,
            ", this library reads version ", kVersion);
    require(h.dtype == static_cast<uint32_t>(backend_->dtype()), EXG_ERR_FORMAT, "kv cache import: blob holds ",
            dtype_name(static_cast<int32_t>(h.dtype)), " values, this cache (", backend_->name(), " backend) stores ",
            dtype_name(backend_->dtype()));
    require(h.head_dim == shape_.head_dim, EXG_ERR_FORMAT, "kv cache import: blob head_dim ", h.head_dim,
            " differs from this cache's head_dim ", shape_.head_dim);
    const KvPart all = whole();
    // 64-bit ends: a corrupt header must not overflow into a range that looks inside.
    const int64_t layer_end = static_cast<int64_t>(h.layer_begin) + h.layers;
    const int64_t head_end = static_cast<int64_t>(h.head_begin) + h.heads;
    require(h.layers > 0 && h.layer_begin >= all.layer_begin && layer_end <= all.layer_end, EXG_ERR_FORMAT,
            "kv cache import: blob layers [", h.layer_begin, ", ", layer_end, ") are not inside this cache's layers [",
            all.layer_begin, ", ", all.layer_end, ")");
    require(h.heads > 0 && h.head_begin >= all.head_begin && head_end <= all.head_end, EXG_ERR_FORMAT,
            "kv cache import: blob heads [", h.head_begin, ", ", head_end, ") are not inside this cache's heads [",
            all.head_begin, ", ", all.head_end, ")");
    require(h.seq_len >= 0, EXG_ERR_FORMAT, "kv cache import: blob seq_len ", h.seq_len, " is negative");
    require(h.seq_len <= max_seq_len_, EXG_ERR_CAPACITY, "kv cache import: blob holds ", h.seq_len,
            " tokens but slots hold at most ", max_seq_len_);
    const size_t e = backend_->element_size();
    const size_t row_bytes = static_cast<size_t>(h.seq_len) * shape_.head_dim * e;
    const uint64_t expected = sizeof h + 2ull * static_cast<uint64_t>(h.layers) * static_cast<uint64_t>(h.heads) * row_bytes;
    require(bytes == expected, EXG_ERR_FORMAT, "kv cache import: blob is ", bytes, " bytes, its header implies ",
            expected, bytes < expected ? " (truncated)" : "");
    const bool covers_all = h.layers == shape_.layers && h.heads == shape_.heads;
    const int32_t held = lens_[static_cast<size_t>(slot)];
    // Parts of one sequence (from several encoder shards) fill one slot piece by piece; a length that
    // disagrees means the pieces come from different sequences or a stale slot.
    require(covers_all || held == 0 || held == h.seq_len, EXG_ERR_INVALID_ARGUMENT, "kv cache import: part holds ",
            h.seq_len, " tokens but slot ", slot, " already holds ", held,
            " (parts of one sequence must agree on seq_len; free the slot before importing another sequence)");
    const auto* in = static_cast<const uint8_t*>(src) + sizeof h;
    const auto heads = static_cast<size_t>(h.heads);
    const int32_t first_head = h.head_begin - shape_.head_begin();
    for (int32_t l = h.layer_begin - shape_.layer_begin; l < layer_end - shape_.layer_begin; ++l) {
        for (void* base : {keys(l), values(l)}) {
            if (row_bytes > 0)
                backend_->upload_2d(offset(slot_data(base, slot), first_head * head_stride(), e),
                                    static_cast<size_t>(head_stride()) * e, in, row_bytes, row_bytes, heads);
            in += row_bytes * heads;
        }
    }
    lens_[static_cast<size_t>(slot)] = h.seq_len;
}

}  // namespace exg
