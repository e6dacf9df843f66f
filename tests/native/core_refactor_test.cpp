// Review checks of the storage-dtype refactor: host point-to-point messages (round trip, per-pair
// mailboxes, size mismatch, timeout, abort, empty messages), exg_model_sample against the logits
// exg_model_prefill/decode return (greedy = first maximum, sampling = exg_sample on the same states),
// its refusals after failed steps, and the KV cache's element-size arithmetic and dtype check on a
// backend that stores 2-byte values.
#include "api_fixture.h"
#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "comm/communicator.h"
#include "core/error.h"
#include "model/kv_cache.h"
#include "sampling_rule.h"

#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

using exg_test::sampling_rule;

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The status and message of what body throws (EXG_OK and "" when it returns).
std::pair<exg_status, std::string> outcome(const std::function<void()>& body) {
    try {
        body();
        return {EXG_OK, ""};
    } catch (const exg::Error& e) {
        return {e.status(), e.what()};
    }
}

// ---------------------------------------------------------------------------------------------------
// Host send / recv
// ---------------------------------------------------------------------------------------------------

std::vector<uint8_t> bytes_pattern(size_t n, uint8_t salt) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + salt);
    return v;
}

TEST(HostSendRecv, MessagesRoundTripAndBuffersAreReusable) {
    auto comms = exg::create_host_group(2, 5000);
    const auto pattern = bytes_pattern(4099, 7);
    std::vector<uint8_t> returned(pattern.size()), relay(pattern.size());
    std::pair<exg_status, std::string> peer_result;
    std::thread peer([&] {
        peer_result = outcome([&] {
            for (int round = 0; round < 3; ++round) {
                comms[1]->recv(relay.data(), relay.size(), 0);
                for (auto& b : relay) b = static_cast<uint8_t>(b + 1);
                comms[1]->send(relay.data(), relay.size(), 0);  // the same buffer each round
            }
        });
    });
    std::vector<uint8_t> sent = pattern;
    for (int round = 0; round < 3; ++round) {
        comms[0]->send(sent.data(), sent.size(), 1);
        std::fill(returned.begin(), returned.end(), 0);
        comms[0]->recv(returned.data(), returned.size(), 1);
        for (size_t i = 0; i < sent.size(); ++i) ASSERT_EQ(returned[i], static_cast<uint8_t>(sent[i] + 1)) << "round " << round;
        sent = returned;
    }
    peer.join();
    EXPECT_EQ(peer_result.first, EXG_OK) << peer_result.second;
}

TEST(HostSendRecv, EachPairHasItsOwnMailbox) {
    // Ranks 0 and 1 send to 2 at once; 2 takes 1's message first: 0's must wait, not be delivered as 1's.
    auto comms = exg::create_host_group(3, 5000);
    const auto from0 = bytes_pattern(64, 1), from1 = bytes_pattern(64, 2);
    std::vector<uint8_t> got0(64), got1(64);
    std::pair<exg_status, std::string> r0, r1;
    std::thread t0([&] { r0 = outcome([&] { comms[0]->send(from0.data(), from0.size(), 2); }); });
    std::thread t1([&] { r1 = outcome([&] { comms[1]->send(from1.data(), from1.size(), 2); }); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // both posted
    comms[2]->recv(got1.data(), got1.size(), 1);
    comms[2]->recv(got0.data(), got0.size(), 0);
    t0.join();
    t1.join();
    EXPECT_EQ(r0.first, EXG_OK) << r0.second;
    EXPECT_EQ(r1.first, EXG_OK) << r1.second;
    EXPECT_EQ(got0, from0);
    EXPECT_EQ(got1, from1);
}

TEST(HostSendRecv, AnEmptyMessageMayComeWithoutABuffer) {
    auto comms = exg::create_host_group(2, 2000);
    std::pair<exg_status, std::string> sender;
    std::thread t([&] { sender = outcome([&] { comms[0]->send(nullptr, 0, 1); }); });
    const auto receiver = outcome([&] { comms[1]->recv(nullptr, 0, 0); });
    t.join();
    EXPECT_EQ(sender.first, EXG_OK) << sender.second;
    EXPECT_EQ(receiver.first, EXG_OK) << receiver.second;
}

TEST(HostSendRecv, ASizeMismatchFailsBothSidesAndTheGroup) {
    auto comms = exg::create_host_group(2, 5000);
    std::vector<uint8_t> out(16, 1), in(8, 0);
    std::pair<exg_status, std::string> sender;
    std::thread t([&] { sender = outcome([&] { comms[0]->send(out.data(), out.size(), 1); }); });
    const auto receiver = outcome([&] { comms[1]->recv(in.data(), in.size(), 0); });
    t.join();
    EXPECT_EQ(receiver.first, EXG_ERR_COMM);
    EXPECT_TRUE(contains(receiver.second, "expected 8 bytes")) << receiver.second;
    EXPECT_TRUE(contains(receiver.second, "sent 16")) << receiver.second;
    EXPECT_EQ(sender.first, EXG_ERR_COMM) << sender.second;
    EXPECT_EQ(in, std::vector<uint8_t>(8, 0));  // nothing was copied
    EXPECT_EQ(outcome([&] { comms[1]->recv(in.data(), in.size(), 0); }).first, EXG_ERR_COMM);  // the group is aborted
}

TEST(HostSendRecv, AMissingPeerTimesOutInsteadOfHanging) {
    for (const bool sending : {false, true}) {
        auto comms = exg::create_host_group(2, 150);
        std::vector<uint8_t> buf(8);
        const auto start = std::chrono::steady_clock::now();
        const auto r = outcome([&] {
            if (sending) comms[0]->send(buf.data(), buf.size(), 1);
            else comms[0]->recv(buf.data(), buf.size(), 1);
        });
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(r.first, EXG_ERR_COMM) << (sending ? "send" : "recv");
        EXPECT_TRUE(contains(r.second, "timed out after 150 ms")) << r.second;
        EXPECT_LT(seconds, 5.0);
        // The peer that comes late finds the group aborted rather than a stale message.
        EXPECT_EQ(outcome([&] {
                      if (sending) comms[1]->recv(buf.data(), buf.size(), 0);
                      else comms[1]->send(buf.data(), buf.size(), 0);
                  }).first,
                  EXG_ERR_COMM);
    }
}

TEST(HostSendRecv, AbortWakesAWaitingReceiver) {
    auto comms = exg::create_host_group(2, 30000);
    std::vector<uint8_t> buf(8);
    std::thread aborter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        comms[1]->abort();
    });
    const auto start = std::chrono::steady_clock::now();
    const auto r = outcome([&] { comms[0]->recv(buf.data(), buf.size(), 1); });
    aborter.join();
    EXPECT_EQ(r.first, EXG_ERR_COMM);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

TEST(HostSendRecv, APeerOutsideTheGroupOrItselfIsAnArgumentError) {
    auto comms = exg::create_host_group(2, 1000);
    uint8_t b[4] = {};
    EXPECT_EQ(outcome([&] { comms[0]->send(b, 4, 0); }).first, EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(outcome([&] { comms[0]->recv(b, 4, 2); }).first, EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(outcome([&] { comms[0]->recv(b, 4, -1); }).first, EXG_ERR_INVALID_ARGUMENT);
    float x = 1.0f;
    EXPECT_EQ(outcome([&] { comms[0]->all_reduce_sum(&x, 1, EXG_DTYPE_BF16); }).first, EXG_ERR_INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------------------------------
// exg_model_sample
// ---------------------------------------------------------------------------------------------------

using exg_test::shared_cpu_backend;

struct Shard : exg_test::ApiModel {
    std::vector<int32_t> slots;
    int32_t vocab = 0;
};

std::unique_ptr<Shard> make_shard(const char* preset, int32_t layer_end = -1) {
    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    EXPECT_EQ(exg_config_preset(preset, &mp.config), EXG_OK);
    mp.seed = 99;
    mp.layer_begin = 0;
    mp.layer_end = layer_end < 0 ? mp.config.num_layers : layer_end;
    mp.tp_size = 1;
    auto s = std::make_unique<Shard>();
    s->vocab = mp.config.vocab_size;
    EXPECT_EQ(exg_model_create(shared_cpu_backend(), &mp, &s->model), EXG_OK) << exg_last_error_message();
    exg_kv_cache_params kp{sizeof(exg_kv_cache_params), 4, 32};
    EXPECT_EQ(exg_kv_cache_create(s->model, &kp, &s->cache), EXG_OK) << exg_last_error_message();
    for (int i = 0; i < 3; ++i) {
        int32_t slot = -1;
        EXPECT_EQ(exg_kv_cache_alloc_slot(s->cache, &slot), EXG_OK);
        s->slots.push_back(slot);
    }
    return s;
}

exg_batch make_batch(const Shard& s, const int32_t* lens, const int32_t* ids, float* logits, float* hidden_out = nullptr) {
    exg_batch b{};
    b.struct_size = sizeof b;
    b.num_seqs = static_cast<int32_t>(s.slots.size());
    b.slots = s.slots.data();
    b.seq_lens = lens;
    b.token_ids = ids;
    b.hidden_out = hidden_out;
    b.logits_out = logits;
    return b;
}

// The lowest index among the maxima (stated here, not taken from the sampler).
int32_t first_argmax(const float* row, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
        if (row[i] > row[best]) best = i;
    return best;
}

class ModelSample : public ::testing::TestWithParam<const char*> {};

TEST_P(ModelSample, GreedyIsTheArgmaxOfTheStepsLogitsAndSamplingMatchesExgSample) {
    auto s = make_shard(GetParam());
    const int32_t n = static_cast<int32_t>(s->slots.size()), vocab = s->vocab;
    const std::vector<int32_t> lens = {3, 1, 5};
    const std::vector<int32_t> prompt = {5, 9, 2, 77, 1, 3, 3, 8, 120};
    std::vector<float> logits(static_cast<size_t>(n * vocab));
    auto b = make_batch(*s, lens.data(), prompt.data(), logits.data());
    ASSERT_EQ(exg_model_prefill(s->model, s->cache, &b), EXG_OK) << exg_last_error_message();

    const std::vector<exg_sampling_params> rules = {sampling_rule(false, 0.8f), sampling_rule(false, 1.0f, 5),
                                                    sampling_rule(false, 1.3f, 0, 0.7f), sampling_rule(false, 0.6f, 20, 0.9f)};
    std::vector<int32_t> next(static_cast<size_t>(n));
    for (int step = 0; step < 4; ++step) {
        std::vector<int32_t> tokens(static_cast<size_t>(n), -1);
        ASSERT_EQ(exg_model_sample(s->model, &rules[0], nullptr, tokens.data()), EXG_ERR_INVALID_ARGUMENT);  // needs states
        const auto greedy = sampling_rule(true);
        ASSERT_EQ(exg_model_sample(s->model, &greedy, nullptr, tokens.data()), EXG_OK) << exg_last_error_message();
        for (int32_t r = 0; r < n; ++r)
            EXPECT_EQ(tokens[static_cast<size_t>(r)], first_argmax(logits.data() + r * vocab, vocab)) << "row " << r << ", step " << step;

        for (const auto& rule : rules) {
            std::vector<uint64_t> mine(static_cast<size_t>(n)), theirs(static_cast<size_t>(n));
            for (int32_t r = 0; r < n; ++r) mine[static_cast<size_t>(r)] = theirs[static_cast<size_t>(r)] = exg_rng_init(7, static_cast<uint64_t>(r + 10 * step));
            std::vector<int32_t> want(static_cast<size_t>(n), -1), got(static_cast<size_t>(n), -1);
            ASSERT_EQ(exg_sample(logits.data(), n, vocab, &rule, theirs.data(), want.data()), EXG_OK);
            ASSERT_EQ(exg_model_sample(s->model, &rule, mine.data(), got.data()), EXG_OK) << exg_last_error_message();
            EXPECT_EQ(got, want) << "T=" << rule.temperature << " top_k=" << rule.top_k << " top_p=" << rule.top_p;
            EXPECT_EQ(mine, theirs);  // the streams advance alike
        }
        next = tokens;
        b = make_batch(*s, nullptr, next.data(), logits.data());
        ASSERT_EQ(exg_model_decode(s->model, s->cache, &b), EXG_OK) << exg_last_error_message();
    }
}

TEST_P(ModelSample, AStepWithoutLogitsOutKeepsThemForSampling) {
    auto with = make_shard(GetParam()), without = make_shard(GetParam());  // same seed: the same weights
    const int32_t n = static_cast<int32_t>(with->slots.size()), vocab = with->vocab;
    const std::vector<int32_t> lens = {2, 4, 1};
    const std::vector<int32_t> prompt = {11, 12, 13, 14, 15, 16, 17};
    std::vector<float> logits(static_cast<size_t>(n * vocab));
    auto b = make_batch(*with, lens.data(), prompt.data(), logits.data());
    ASSERT_EQ(exg_model_prefill(with->model, with->cache, &b), EXG_OK) << exg_last_error_message();
    b = make_batch(*without, lens.data(), prompt.data(), nullptr);
    ASSERT_EQ(exg_model_prefill(without->model, without->cache, &b), EXG_OK) << exg_last_error_message();
    std::vector<int32_t> tokens(static_cast<size_t>(n), -1);
    const auto greedy = sampling_rule(true);
    ASSERT_EQ(exg_model_sample(without->model, &greedy, nullptr, tokens.data()), EXG_OK) << exg_last_error_message();
    for (int32_t r = 0; r < n; ++r) EXPECT_EQ(tokens[static_cast<size_t>(r)], first_argmax(logits.data() + r * vocab, vocab));
}

INSTANTIATE_TEST_SUITE_P(Tiny, ModelSample, ::testing::Values("tiny", "tiny-postln", "tiny-proj"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                             std::string name = param.param;
                             for (auto& ch : name) if (ch == '-') ch = '_';
                             return name;
                         });

TEST(ModelSampleRefusals, NothingToSampleBeforeAStepAfterAFailedStepOrOffTheLastStage) {
    auto s = make_shard("tiny");
    const int32_t n = static_cast<int32_t>(s->slots.size());
    std::vector<int32_t> tokens(static_cast<size_t>(n), -1);
    const auto greedy = sampling_rule(true);
    EXPECT_EQ(exg_model_sample(s->model, &greedy, nullptr, tokens.data()), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(exg_last_error_message(), "no logits")) << exg_last_error_message();

    const std::vector<int32_t> lens = {1, 1, 1}, ids = {4, 5, 6};
    auto b = make_batch(*s, lens.data(), ids.data(), nullptr);
    ASSERT_EQ(exg_model_prefill(s->model, s->cache, &b), EXG_OK) << exg_last_error_message();
    ASSERT_EQ(exg_model_sample(s->model, &greedy, nullptr, tokens.data()), EXG_OK);

    const std::vector<int32_t> bad = {4, 5, 100000};  // outside the vocabulary: the step fails
    b = make_batch(*s, nullptr, bad.data(), nullptr);
    ASSERT_EQ(exg_model_decode(s->model, s->cache, &b), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_model_sample(s->model, &greedy, nullptr, tokens.data()), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(exg_last_error_message(), "last step failed")) << exg_last_error_message();

    // Argument guards.
    EXPECT_EQ(exg_model_sample(nullptr, &greedy, nullptr, tokens.data()), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_model_sample(s->model, nullptr, nullptr, tokens.data()), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_model_sample(s->model, &greedy, nullptr, nullptr), EXG_ERR_INVALID_ARGUMENT);
    auto old = greedy;
    old.struct_size -= 4;
    EXPECT_EQ(exg_model_sample(s->model, &old, nullptr, tokens.data()), EXG_ERR_INVALID_ARGUMENT);
    auto hot = sampling_rule(false, 0.0f);
    uint64_t states[3] = {1, 2, 3};
    EXPECT_EQ(exg_model_sample(s->model, &hot, states, tokens.data()), EXG_ERR_INVALID_ARGUMENT);  // temperature 0

    auto first = make_shard("tiny", 1);  // layers [0, 1) of 2: not the last stage
    std::vector<float> hidden(static_cast<size_t>(3 * 64));
    b = make_batch(*first, lens.data(), ids.data(), nullptr, hidden.data());
    ASSERT_EQ(exg_model_prefill(first->model, first->cache, &b), EXG_OK) << exg_last_error_message();
    EXPECT_EQ(exg_model_sample(first->model, &greedy, nullptr, tokens.data()), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(exg_last_error_message(), "not the last stage")) << exg_last_error_message();
}

// ---------------------------------------------------------------------------------------------------
// Backend C ABI entries
// ---------------------------------------------------------------------------------------------------

TEST(BackendAbi, DtypeDeviceInfoAndAvailability) {
    EXPECT_EQ(exg_backend_dtype(shared_cpu_backend()), EXG_DTYPE_F32);
    EXPECT_EQ(exg_backend_dtype(nullptr), -1);
    exg_device_info info{};
    EXPECT_EQ(exg_backend_device_info(shared_cpu_backend(), &info), EXG_ERR_INVALID_ARGUMENT);  // struct_size 0
    EXPECT_EQ(exg_backend_device_info(nullptr, &info), EXG_ERR_INVALID_ARGUMENT);
    info.struct_size = sizeof info;
    ASSERT_EQ(exg_backend_device_info(shared_cpu_backend(), &info), EXG_OK) << exg_last_error_message();
    EXPECT_EQ(info.struct_size, sizeof info);
    EXPECT_GT(std::strlen(info.name), 0u);
    EXPECT_LT(std::strlen(info.name), sizeof info.name);
    EXPECT_EQ(info.multiprocessors, 1);  // the backend's one thread
    EXPECT_EQ(info.compute_capability, 0);

    EXPECT_STREQ(exg_backend_unavailable_reason(EXG_BACKEND_CPU), "");
    EXPECT_GT(std::strlen(exg_backend_unavailable_reason(7)), 0u);
    EXPECT_EQ(exg_backend_available(EXG_BACKEND_CUDA) != 0, std::strlen(exg_backend_unavailable_reason(EXG_BACKEND_CUDA)) == 0);

    exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, 1, EXG_DTYPE_BF16};
    exg_backend* b = nullptr;
    EXPECT_EQ(exg_backend_create(&bp, &b), EXG_ERR_UNSUPPORTED);
    EXPECT_EQ(b, nullptr);
    EXPECT_TRUE(contains(exg_last_error_message(), "f32 only")) << exg_last_error_message();
    EXPECT_STREQ(exg_status_name(EXG_ERR_DEVICE), "EXG_ERR_DEVICE");

    // NCCL entry points refuse what they cannot serve before touching NCCL.
    uint8_t id[EXG_NCCL_UNIQUE_ID_BYTES] = {};
    int sentinel = 0;
    exg_comm* comm = reinterpret_cast<exg_comm*>(&sentinel);  // must be overwritten with null
    EXPECT_EQ(exg_comm_create_nccl(shared_cpu_backend(), id, 1, 0, 1000, &comm), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(comm, nullptr);
    EXPECT_TRUE(contains(exg_last_error_message(), "CUDA backend")) << exg_last_error_message();
    EXPECT_EQ(exg_comm_create_nccl(shared_cpu_backend(), id, 2, 2, 1000, &comm), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_comm_create_nccl(shared_cpu_backend(), nullptr, 1, 0, 1000, &comm), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_comm_nccl_unique_id(id, EXG_NCCL_UNIQUE_ID_BYTES - 1), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_comm_nccl_unique_id(nullptr, EXG_NCCL_UNIQUE_ID_BYTES), EXG_ERR_INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------------------------------
// KV cache with 2-byte storage
// ---------------------------------------------------------------------------------------------------

// Host memory that claims a 2-byte storage dtype: enough for the KV cache, which only moves bytes.
class HalfStorage final : public exg::Backend {
public:
    explicit HalfStorage(exg_dtype dtype) : dtype_(dtype) {}
    const char* name() const override { return "half-storage"; }
    exg_dtype dtype() const override { return dtype_; }
    void device_info(exg_device_info&) const override {}
    void* alloc(size_t bytes) override {
        void* p = std::malloc(bytes);
        if (p == nullptr) throw std::bad_alloc();
        return p;
    }
    void free(void* p) noexcept override { std::free(p); }
    size_t available_memory() const override { return 0; }
    void* alloc_host(size_t bytes) override { return alloc(bytes); }
    void free_host(void* p) noexcept override { std::free(p); }
    void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void copy(void* dst, const void* src, size_t bytes) override { std::memmove(dst, src, bytes); }
    void upload_f32(void*, const float*, int64_t) override { unused("upload_f32"); }
    void download_f32(float*, const void*, int64_t) override { unused("download_f32"); }
    void synchronize() override {}
    void gemm(const exg::GemmParams&) override { unused("gemm"); }
    void layer_norm(const exg::LayerNormParams&) override { unused("layer_norm"); }
    void embedding(const exg::EmbeddingParams&) override { unused("embedding"); }
    void attention(const exg::AttentionParams&) override { unused("attention"); }
    void add(void*, const void*, int64_t) override { unused("add"); }
    void gather_rows(void*, const void*, const int32_t*, int64_t, int64_t) override { unused("gather_rows"); }
    void sample(const exg::SampleParams&) override { unused("sample"); }

private:
    [[noreturn]] static void unused(const char* op) { exg::fail(EXG_ERR_INTERNAL, "HalfStorage: ", op, " is not for the kv cache"); }
    exg_dtype dtype_;
};

constexpr int32_t kLayers = 2, kHeads = 3, kHeadDim = 5, kMaxSeq = 6, kSlots = 3;

uint16_t half_pattern(bool value, int32_t slot_tag, int32_t layer, int32_t head, int32_t pos, int32_t d) {
    return static_cast<uint16_t>((value ? 0x8000 : 0) | (slot_tag << 12) | (layer << 10) | (head << 7) | (pos << 3) | d);
}

// Fills every position (len of them counted) of a slot of a 2-byte cache with a pattern tagged `tag`;
// positions past len get the pattern too, so a copy that moves too much or too little shows.
void fill_half(exg::KvCache& c, int32_t slot, int32_t tag, int32_t len) {
    for (int32_t l = 0; l < kLayers; ++l)
        for (int32_t h = 0; h < kHeads; ++h)
            for (int32_t p = 0; p < kMaxSeq; ++p)
                for (int32_t d = 0; d < kHeadDim; ++d) {
                    const int64_t at = slot * c.slot_stride() + h * c.head_stride() + p * kHeadDim + d;
                    static_cast<uint16_t*>(c.keys(l))[at] = half_pattern(false, tag, l, h, p, d);
                    static_cast<uint16_t*>(c.values(l))[at] = half_pattern(true, tag, l, h, p, d);
                }
    c.advance(slot, len);
}

// The first `len` positions of the slot carry tag's pattern (and, with rest_tag >= 0, the others rest_tag's).
void expect_half(const exg::KvCache& c, int32_t slot, int32_t tag, int32_t len, int32_t rest_tag) {
    for (int32_t l = 0; l < kLayers; ++l)
        for (int32_t h = 0; h < kHeads; ++h)
            for (int32_t p = 0; p < kMaxSeq; ++p) {
                const int32_t want = p < len ? tag : rest_tag;
                if (want < 0) continue;
                for (int32_t d = 0; d < kHeadDim; ++d) {
                    const int64_t at = slot * c.slot_stride() + h * c.head_stride() + p * kHeadDim + d;
                    ASSERT_EQ(static_cast<const uint16_t*>(c.keys(l))[at], half_pattern(false, want, l, h, p, d))
                        << "key: slot " << slot << " layer " << l << " head " << h << " pos " << p << " d " << d;
                    ASSERT_EQ(static_cast<const uint16_t*>(c.values(l))[at], half_pattern(true, want, l, h, p, d))
                        << "value: slot " << slot << " layer " << l << " head " << h << " pos " << p << " d " << d;
                }
            }
}

exg::KvCache half_cache(exg::Backend& b) { return exg::KvCache(&b, exg::KvShape{kLayers, kHeads, kHeadDim, 0, 0, 1}, kSlots, kMaxSeq); }

TEST(HalfKvCache, ExportImportAndCompactionMoveTwoByteElements) {
    HalfStorage bf16(EXG_DTYPE_BF16);
    exg::KvCache src = half_cache(bf16), dst = half_cache(bf16);
    const int32_t a = src.alloc_slot(), s = src.alloc_slot();
    fill_half(src, a, 1, 2);
    fill_half(src, s, 2, 4);

    const uint64_t header = src.export_size(a, src.whole()) - 2ull * kLayers * kHeads * 2 * kHeadDim * 2;
    EXPECT_EQ(src.export_size(s, src.whole()), header + 2ull * kLayers * kHeads * 4 * kHeadDim * 2);
    std::vector<uint8_t> blob(src.export_size(s, src.whole()));
    ASSERT_EQ(src.export_to(s, src.whole(), blob.data(), blob.size()), blob.size());

    const int32_t first = dst.alloc_slot(), target = dst.alloc_slot();
    fill_half(dst, first, 3, 0);
    fill_half(dst, target, 3, 0);
    dst.import_from(target, blob.data(), blob.size());
    EXPECT_EQ(dst.seq_len(target), 4);
    expect_half(dst, target, 2, 4, 3);  // the imported positions, and the rest untouched
    expect_half(dst, first, 3, 0, 3);   // the neighbouring slot untouched

    // A part: layer 1, heads [1, 3), through the 2-D copies.
    std::vector<uint8_t> part(src.export_size(s, exg::KvPart{1, 2, 1, 3}));
    ASSERT_EQ(src.export_to(s, exg::KvPart{1, 2, 1, 3}, part.data(), part.size()), part.size());
    EXPECT_EQ(part.size(), header + 2ull * 1 * 2 * 4 * kHeadDim * 2);

    // Compaction moves slot s's 2-byte block onto the freed slot a.
    src.free_slot(a);
    std::vector<int32_t> moved(kSlots, -7);
    EXPECT_EQ(src.compact(moved.data()), 1);
    EXPECT_EQ(moved[static_cast<size_t>(s)], 0);
    EXPECT_EQ(src.seq_len(0), 4);
    expect_half(src, 0, 2, kMaxSeq, -1);
}

TEST(HalfKvCache, ABlobOfAnotherDtypeIsRefusedAndLeavesTheSlot) {
    HalfStorage bf16(EXG_DTYPE_BF16), f16(EXG_DTYPE_F16);
    exg::CpuBackend f32(1);
    exg::KvCache half = half_cache(bf16), other_half = half_cache(f16), full = half_cache(f32);
    const int32_t hs = half.alloc_slot(), os = other_half.alloc_slot(), fs = full.alloc_slot();
    fill_half(half, hs, 1, 3);
    fill_half(other_half, os, 2, 3);
    full.advance(fs, 3);

    auto blob_of = [](const exg::KvCache& c, int32_t slot) {
        std::vector<uint8_t> blob(c.export_size(slot, c.whole()));
        EXPECT_EQ(c.export_to(slot, c.whole(), blob.data(), blob.size()), blob.size());
        return blob;
    };
    const auto f16_blob = blob_of(other_half, os), f32_blob = blob_of(full, fs);
    const int32_t target = half.alloc_slot();
    fill_half(half, target, 3, 1);
    auto refused = [&](const std::vector<uint8_t>& blob, const std::string& needle) {
        const auto r = outcome([&] { half.import_from(target, blob.data(), blob.size()); });
        EXPECT_EQ(r.first, EXG_ERR_FORMAT) << r.second;
        EXPECT_TRUE(contains(r.second, needle)) << r.second;
        EXPECT_EQ(half.seq_len(target), 1);
        expect_half(half, target, 3, kMaxSeq, -1);
    };
    refused(f16_blob, "blob holds f16 values");  // same size per element, another format
    refused(f32_blob, "blob holds f32 values");
    auto unknown = f16_blob;
    const uint32_t nine = 9;
    std::memcpy(unknown.data() + 12, &nine, sizeof nine);  // the dtype follows the magic and the version
    refused(unknown, "unknown-dtype");

    // And the other way: a bf16 blob does not land in an f32 cache.
    const auto bf16_blob = blob_of(half, hs);
    const auto r = outcome([&] { full.import_from(fs, bf16_blob.data(), bf16_blob.size()); });
    EXPECT_EQ(r.first, EXG_ERR_FORMAT);
    EXPECT_TRUE(contains(r.second, "stores f32")) << r.second;
    EXPECT_EQ(full.seq_len(fs), 3);
}

}  // namespace
