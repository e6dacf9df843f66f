// Memory ops: upload_f32 / download_f32 (the storage-dtype conversions: round to nearest even,
// overflow to infinity, F16 subnormals, NaN), copy within backend memory, and the 2-D (pitched)
// uploads and downloads of the KV hand-off from pageable and page-locked host memory.
#include "op_support.h"

#include <cmath>
#include <limits>
#include <random>

namespace exg::ops {
namespace {

// Values whose conversion is easy to get wrong, then random magnitudes 1e-9 .. 1e6 of both signs.
// F32 subnormals are left out: a device conversion compiled with flush-to-zero may drop them and no
// weight or activation lives there.
std::vector<float> conversion_inputs(size_t count, uint32_t seed) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> v = {
        0.0f, -0.0f, 1.0f, -1.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
        65504.0f, 65519.0f, 65520.0f, -1e5f,                   // F16: largest finite, rounds down to it, overflows
        3.3895314e38f, 3.4e38f, std::numeric_limits<float>::max(),  // BF16: largest finite, overflow
        std::ldexp(1.0f, -14), std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), 3.0e-08f, 1.0e-06f,  // F16 (sub)normal edges
        1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8),    // BF16 ties: to even (down, up)
        1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11),  // F16 ties
        -(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20),
    };
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> exponent(-9.0f, 6.0f);
    while (v.size() < count) {
        const float x = std::pow(10.0f, exponent(rng));
        v.push_back(rng() & 1 ? -x : x);
    }
    v.resize(count);
    return v;
}

class ConvertOp final : public OpInstance {
public:
    // Writes `count` values at element `at` of a storage-dtype buffer with upload_f32, copies them to
    // element `at + 1` of a second buffer with copy, and reads both back with download_f32.
    ConvertOp(Backend& b, int64_t count, int64_t at, exg_dtype dtype) : b_(b), count_(count), at_(at) {
        host_ = conversion_inputs(static_cast<size_t>(count), 21);
        // The backend under test converts for itself; the F32 reference receives what it should produce.
        if (b.dtype() != dtype) round_through(host_, dtype);
        a_ = Tensor(b, count + at + 2);
        copy_ = Tensor(b, count + at + 2);
    }
    void launch() override {
        b_.upload_f32(a_.at(at_), host_.data(), count_);
        b_.copy(copy_.at(at_ + 1), a_.at(at_), static_cast<size_t>(count_) * b_.element_size());
    }
    std::vector<Output> result() override {
        std::vector<float> back(static_cast<size_t>(count_)), copied(static_cast<size_t>(count_));
        b_.synchronize();
        b_.download_f32(back.data(), a_.at(at_), count_);
        b_.download_f32(copied.data(), copy_.at(at_ + 1), count_);
        return {exact_output("round trip", std::move(back)), exact_output("device copy", std::move(copied))};
    }

private:
    Backend& b_;
    int64_t count_, at_;
    std::vector<float> host_;
    Tensor a_, copy_;
};

struct Copy2dShape {
    size_t width, height, src_pitch, dst_pitch, host_pitch;
    bool pinned;
};

// Host memory from std::vector or from the backend's page-locked allocator.
class HostBytes {
public:
    HostBytes(Backend& b, size_t bytes, bool pinned) : b_(b), pinned_(pinned), bytes_(bytes) {
        if (pinned) data_ = static_cast<uint8_t*>(b.alloc_host(bytes));
        else {
            vec_.resize(bytes);
            data_ = vec_.data();
        }
    }
    ~HostBytes() {
        if (pinned_) b_.free_host(data_);
    }
    HostBytes(const HostBytes&) = delete;
    HostBytes& operator=(const HostBytes&) = delete;
    uint8_t* data() const { return data_; }
    size_t size() const { return bytes_; }

private:
    Backend& b_;
    bool pinned_;
    size_t bytes_;
    std::vector<uint8_t> vec_;
    uint8_t* data_ = nullptr;
};

void fill_bytes(uint8_t* p, size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng());
}

std::vector<uint64_t> words_of(const uint8_t* p, size_t n) { return std::vector<uint64_t>(p, p + n); }

class Copy2dOp final : public OpInstance {
public:
    static constexpr size_t kAt = 3;  // byte offset into backend memory: pitched copies need no alignment

    Copy2dOp(Backend& b, const Copy2dShape& s)
        : b_(b), s_(s), src_(b, s.height * s.src_pitch, s.pinned), dst_(b, s.height * s.host_pitch, s.pinned),
          device_bytes_(kAt + s.height * s.dst_pitch + 5), device_(&b, device_bytes_) {
        fill_bytes(src_.data(), src_.size(), 31);
        fill_bytes(dst_.data(), dst_.size(), 32);
        std::vector<uint8_t> before(device_bytes_);
        fill_bytes(before.data(), before.size(), 33);
        b.upload(device_.data(), before.data(), before.size());
    }
    void launch() override {
        auto* at = static_cast<uint8_t*>(device_.data()) + kAt;
        b_.upload_2d(at, s_.dst_pitch, src_.data(), s_.src_pitch, s_.width, s_.height);
        b_.download_2d(dst_.data(), s_.host_pitch, at, s_.dst_pitch, s_.width, s_.height);
    }
    std::vector<Output> result() override {
        std::vector<uint8_t> device(device_bytes_);
        b_.synchronize();
        b_.download(device.data(), device_.data(), device.size());
        Output up, down;
        up.name = "backend memory after upload_2d";
        up.compare = down.compare = Output::Compare::Words;
        up.words = words_of(device.data(), device.size());
        down.name = "host memory after download_2d";
        down.words = words_of(dst_.data(), dst_.size());
        return {std::move(up), std::move(down)};
    }

private:
    Backend& b_;
    Copy2dShape s_;
    HostBytes src_, dst_;
    size_t device_bytes_;
    Buffer device_;
};

void add_convert(std::vector<OpCase>& cases, int64_t count, int64_t at) {
    cases.push_back({"convert", describe("upload_f32/copy/download_f32 n=", count, " at ", at), 0, 4.0 * static_cast<double>(count),
                     8.0 * static_cast<double>(count),
                     [=](Backend& b, exg_dtype dtype) { return std::make_unique<ConvertOp>(b, count, at, dtype); }});
}

void add_copy_2d(std::vector<OpCase>& cases, const Copy2dShape& s) {
    cases.push_back({"copy_2d",
                     describe("width=", s.width, " height=", s.height, " pitches ", s.src_pitch, "/", s.dst_pitch, "/",
                              s.host_pitch, s.pinned ? " pinned" : " pageable"),
                     0, 0, 4.0 * static_cast<double>(s.width * s.height),
                     [s](Backend& b, exg_dtype) { return std::make_unique<Copy2dOp>(b, s); }});
}

}  // namespace

void add_memory_cases(std::vector<OpCase>& cases, Sweep sweep) {
    add_convert(cases, 1, 0);
    add_convert(cases, 1001, 1);
    add_convert(cases, 65536, 0);
    for (bool pinned : {false, true}) {
        add_copy_2d(cases, {37, 5, 64, 50, 41, pinned});  // odd widths and pitches
        add_copy_2d(cases, {256, 1, 256, 256, 256, pinned});
        add_copy_2d(cases, {128, 33, 128, 4096, 192, pinned});  // one head's rows out of a layer's
    }
    if (sweep == Sweep::Full) {
        add_convert(cases, 40'000'001, 3);  // 160 MB of F32: crosses any staging-buffer chunking
        for (bool pinned : {false, true}) add_copy_2d(cases, {2 * 128 * 2048, 40, 2 * 128 * 2048, 2 * 128 * 4096, 2 * 128 * 2048, pinned});
    }
}

}  // namespace exg::ops
