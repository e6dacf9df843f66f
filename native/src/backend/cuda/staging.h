// Host-side bookkeeping of CudaBackend's copies and metadata staging, in plain C++ so it is tested
// without a GPU (tests/native/cuda_staging_test.cpp): which host ranges are page-locked, where each host
// array lands in a staging slot, and what an attention batch's host metadata says about its launch.
#pragma once

#include "backend/backend.h"
#include "core/error.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <vector>

namespace exg::cuda {

// Live page-locked buffers (start -> bytes). Thread-safe: buffers come and go on any thread.
class PinnedRanges {
public:
    void add(const void* p, size_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        ranges_[address(p)] = bytes;
    }
    void remove(const void* p) {
        std::lock_guard<std::mutex> lock(mutex_);
        ranges_.erase(address(p));
    }
    // True when [p, p + bytes) lies inside one live buffer.
    bool contains(const void* p, size_t bytes) const {
        const uintptr_t start = address(p);
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = ranges_.upper_bound(start);  // the first buffer starting after p
        if (it == ranges_.begin()) return false;
        --it;  // the last buffer starting at or before p
        const uintptr_t offset = start - it->first;
        return offset <= it->second && bytes <= it->second - offset;  // no overflow: offset <= size first
    }

private:
    static uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }
    mutable std::mutex mutex_;
    std::map<uintptr_t, size_t> ranges_;
};

// Host bytes a strided copy touches: height rows of width bytes, pitch apart (0 when empty).
inline size_t strided_extent(size_t pitch, size_t width, size_t height) {
    return height == 0 || width == 0 ? 0 : pitch * (height - 1) + width;
}

// Bytes a host array occupies in a staging buffer: arrays are packed back to back at 16-byte aligned
// offsets (device vector loads; cudaMalloc'd and cudaHostAlloc'd bases are at least that aligned).
inline size_t staging_bytes(size_t bytes) { return (bytes + 15) / 16 * 16; }

// What the host metadata of an attention batch says about its launch.
struct AttentionShape {
    int32_t max_len = 0;       // longest new run (grid sizing; 1 for a decode batch)
    int32_t max_total = 0;     // longest past + len (split-KV sizing)
    int64_t total_tokens = 0;  // sum of len
};

// Validates the host arrays (every entry >= 0, positions fit int32) and sizes the launch.
inline AttentionShape attention_shape(const AttentionParams& p) {
    AttentionShape shape;
    int64_t max_total = 0;
    for (int32_t s = 0; s < p.num_seqs; ++s) {
        require(p.slot[s] >= 0 && p.q_start[s] >= 0 && p.len[s] >= 0 && p.past[s] >= 0, EXG_ERR_INVALID_ARGUMENT,
                "attention: sequence ", s, " has slot ", p.slot[s], ", q_start ", p.q_start[s], ", len ", p.len[s],
                ", past ", p.past[s], " (all must be >= 0)");
        shape.max_len = std::max(shape.max_len, p.len[s]);
        max_total = std::max<int64_t>(max_total, int64_t{p.past[s]} + p.len[s]);
        shape.total_tokens += p.len[s];
    }
    require(max_total <= INT32_MAX, EXG_ERR_INVALID_ARGUMENT, "attention: a sequence of ", max_total,
            " positions exceeds the int32 range");
    shape.max_total = static_cast<int32_t>(max_total);
    return shape;
}

// The host metadata (slot, q_start, len, past) of the last attention batch staged, so a layer whose batch is
// byte-identical reuses the device copy instead of staging it again.
class AttentionKey {
public:
    bool matches(const AttentionParams& p) const {
        const size_t n = static_cast<size_t>(std::max(p.num_seqs, 0));
        if (!valid_ || key_.size() != 4 * n) return false;
        const int32_t* arrays[4] = {p.slot, p.q_start, p.len, p.past};
        for (size_t a = 0; a < 4; ++a)
            if (n != 0 && std::memcmp(key_.data() + a * n, arrays[a], n * sizeof(int32_t)) != 0) return false;
        return true;
    }
    void assign(const AttentionParams& p) {
        const size_t n = static_cast<size_t>(std::max(p.num_seqs, 0));
        key_.clear();
        for (const int32_t* a : {p.slot, p.q_start, p.len, p.past}) key_.insert(key_.end(), a, a + n);
        valid_ = true;
    }
    // Forgets the key (before restaging: a failure then leaves nothing that could match).
    void clear() { valid_ = false; }

private:
    std::vector<int32_t> key_;
    bool valid_ = false;
};

// Chunks of at most `chunk` elements covering [0, count): chunk c is [c * chunk, min(count, (c + 1) * chunk)).
inline int64_t chunk_count(int64_t count, int64_t chunk) { return count <= 0 ? 0 : (count + chunk - 1) / chunk; }
inline int64_t chunk_length(int64_t count, int64_t chunk, int64_t c) { return std::min(chunk, count - c * chunk); }

}  // namespace exg::cuda
