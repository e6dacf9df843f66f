// The kernel plug-in ABI (exegpt_kernels.h) through the C API: the example attention and a test FFN
// replace the engine's ops with the same logits, their call counters prove the engine called them, and
// every way a library can fail to load, or an op can fail, is a status whose message names the culprit.
#include "api_fixture.h"

#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* const kExample = EXG_EXAMPLE_KERNELS;
const char* const kTestFfn = EXG_TEST_FFN_KERNELS;
const std::string kBadDir = EXG_BAD_KERNELS_DIR;

std::string bad_library(const char* name) { return kBadDir + "/libexegpt-bad-kernels-" + name + ".so"; }

// A plug-in's extra exports, read through our own dlopen: the same file gives the engine's handle, so
// the counters are the ones the engine's calls moved.
class Plugin {
public:
    explicit Plugin(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}
    ~Plugin() {
        if (handle_ != nullptr) dlclose(handle_);
    }
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    template <class R, class... Args>
    R call(const char* symbol, Args... args) const {
        auto f = reinterpret_cast<R (*)(Args...)>(dlsym(handle_, symbol));
        if (f == nullptr) throw std::runtime_error(std::string("missing symbol ") + symbol);
        return f(args...);
    }

private:
    void* handle_;
};

uint64_t attention_calls(const Plugin& example) { return example.call<uint64_t>("exg_example_attention_calls"); }
uint64_t ffn_calls(const Plugin& ffn) { return ffn.call<uint64_t>("exg_test_ffn_calls"); }

using BackendPtr = std::unique_ptr<exg_backend, decltype(&exg_backend_free)>;

BackendPtr cpu_backend(const char* kernel_library = nullptr) {
    exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, 1, -1};
    exg_backend* b = nullptr;
    EXPECT_EQ(exg_backend_create(&bp, &b), EXG_OK);
    if (kernel_library != nullptr) {
        EXPECT_EQ(exg_backend_load_kernel_library(b, kernel_library), EXG_OK) << exg_last_error_message();
    }
    return BackendPtr(b, exg_backend_free);
}

// One model shard and its cache.
struct Session : exg_test::ApiModel {
    exg_model_config config{};
};

std::unique_ptr<Session> open_session(exg_backend* backend, const char* preset, int32_t tp_rank = 0,
                                      int32_t tp_size = 1, exg_comm* comm = nullptr) {
    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    EXPECT_EQ(exg_config_preset(preset, &mp.config), EXG_OK);
    mp.seed = 4242;
    mp.layer_end = mp.config.num_layers;
    mp.tp_rank = tp_rank;
    mp.tp_size = tp_size;
    mp.comm = comm;
    auto s = std::make_unique<Session>();
    s->config = mp.config;
    EXPECT_EQ(exg_model_create(backend, &mp, &s->model), EXG_OK) << exg_last_error_message();
    exg_kv_cache_params kp{sizeof(exg_kv_cache_params), 4, 32};
    EXPECT_EQ(exg_kv_cache_create(s->model, &kp, &s->cache), EXG_OK) << exg_last_error_message();
    return s;
}

exg_status step(Session& s, bool decode, const std::vector<int32_t>& slots, const std::vector<int32_t>& lens,
                const std::vector<int32_t>& tokens, std::vector<float>& logits) {
    logits.assign(slots.size() * static_cast<size_t>(s.config.vocab_size), 0.0f);
    exg_batch b{};
    b.struct_size = sizeof b;
    b.num_seqs = static_cast<int32_t>(slots.size());
    b.slots = slots.data();
    b.seq_lens = lens.data();
    b.token_ids = tokens.data();
    b.logits_out = logits.data();
    return decode ? exg_model_decode(s.model, s.cache, &b) : exg_model_prefill(s.model, s.cache, &b);
}

constexpr int kScriptSteps = 4;

// A fixed script on two fresh slots: a ragged prefill (5 and 3 tokens), two decode steps, then a second
// prompt chunk of 4 tokens onto the first sequence (prefill over a cached prefix). Every step's logits.
std::vector<float> run_script(Session& s) {
    int32_t a = -1, b = -1;
    EXPECT_EQ(exg_kv_cache_alloc_slot(s.cache, &a), EXG_OK);
    EXPECT_EQ(exg_kv_cache_alloc_slot(s.cache, &b), EXG_OK);
    std::vector<float> all, logits;
    auto run = [&](bool decode, std::vector<int32_t> slots, std::vector<int32_t> lens, std::vector<int32_t> tokens) {
        EXPECT_EQ(step(s, decode, slots, lens, tokens, logits), EXG_OK) << exg_last_error_message();
        all.insert(all.end(), logits.begin(), logits.end());
    };
    run(false, {a, b}, {5, 3}, {2, 17, 5, 99, 42, 2, 63, 7});
    run(true, {a, b}, {1, 1}, {11, 12});
    run(true, {a, b}, {1, 1}, {13, 14});
    run(false, {a}, {4}, {21, 22, 23, 24});
    EXPECT_EQ(exg_kv_cache_free_slot(s.cache, a), EXG_OK);
    EXPECT_EQ(exg_kv_cache_free_slot(s.cache, b), EXG_OK);
    return all;
}

// FP32 in another summation order: the tiny models' logits (|x| < 1) agree to about 1e-7. The bound is
// tight on purpose: attention moves these logits little, so a loose one would pass a wrong kernel (a
// softmax scale off by 1% moves them by 1.5e-5).
void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    ASSERT_FALSE(want.empty());
    float worst = 0.0f;
    for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 2e-6f * (1.0f + std::fabs(want[i]))) << "logit " << i;
        worst = std::max(worst, std::fabs(got[i] - want[i]));
    }
    char text[32];
    std::snprintf(text, sizeof text, "%g", static_cast<double>(worst));
    ::testing::Test::RecordProperty("max_logit_difference", text);
}

TEST(KernelPlugin, ExampleAttentionMatchesTheEngineAndRunsInEveryLayer) {
    auto plain = cpu_backend();
    const auto want = run_script(*open_session(plain.get(), "tiny"));
    EXPECT_EQ(exg_backend_kernel_library_name(plain.get()), nullptr);
    EXPECT_EQ(exg_backend_kernel_ops(plain.get()), static_cast<uint32_t>(EXG_KERNEL_OP_NONE));

    auto plugged = cpu_backend(kExample);
    ASSERT_NE(exg_backend_kernel_library_name(plugged.get()), nullptr);
    EXPECT_STREQ(exg_backend_kernel_library_name(plugged.get()), "example-simple-attention");
    EXPECT_EQ(exg_backend_kernel_ops(plugged.get()), static_cast<uint32_t>(EXG_KERNEL_OP_ATTENTION));
    Plugin example(kExample);
    auto session = open_session(plugged.get(), "tiny");
    const uint64_t before = attention_calls(example);
    const auto got = run_script(*session);
    EXPECT_EQ(attention_calls(example) - before, static_cast<uint64_t>(kScriptSteps * session->config.num_layers));
    expect_close(got, want);
}

TEST(KernelPlugin, ModelsCreatedBeforeTheLoadKeepTheEngineKernels) {
    auto backend = cpu_backend();
    auto before_load = open_session(backend.get(), "tiny");
    ASSERT_EQ(exg_backend_load_kernel_library(backend.get(), kExample), EXG_OK) << exg_last_error_message();
    auto after_load = open_session(backend.get(), "tiny");
    Plugin example(kExample);

    const uint64_t start = attention_calls(example);
    const auto engine = run_script(*before_load);
    EXPECT_EQ(attention_calls(example), start);
    const auto plugin = run_script(*after_load);
    EXPECT_EQ(attention_calls(example) - start, static_cast<uint64_t>(kScriptSteps * after_load->config.num_layers));
    expect_close(plugin, engine);
}

class FfnPlugin : public ::testing::TestWithParam<const char*> {};

TEST_P(FfnPlugin, MatchesTheEngineAndRunsInEveryLayer) {
    auto plain = cpu_backend();
    const auto want = run_script(*open_session(plain.get(), GetParam()));
    auto plugged = cpu_backend(kTestFfn);
    EXPECT_STREQ(exg_backend_kernel_library_name(plugged.get()), "test-ffn");
    EXPECT_EQ(exg_backend_kernel_ops(plugged.get()), static_cast<uint32_t>(EXG_KERNEL_OP_FFN));
    Plugin ffn(kTestFfn);
    auto session = open_session(plugged.get(), GetParam());
    const uint64_t before = ffn_calls(ffn);
    const auto got = run_script(*session);
    EXPECT_EQ(ffn_calls(ffn) - before, static_cast<uint64_t>(kScriptSteps * session->config.num_layers));
    expect_close(got, want);
}

INSTANTIATE_TEST_SUITE_P(Tiny, FfnPlugin, ::testing::Values("tiny", "tiny-gelu", "tiny-postln"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                             std::string name = param.param;
                             for (auto& ch : name) if (ch == '-') ch = '_';
                             return name;
                         });

// Under tensor parallelism each rank's FFN output is a partial sum, so only rank 0 may add fc2's bias.
TEST(KernelPlugin, FfnPluginSumsCorrectlyAcrossTensorParallelRanks) {
    auto plain = cpu_backend();
    auto whole = open_session(plain.get(), "tiny");
    int32_t slot = -1;
    ASSERT_EQ(exg_kv_cache_alloc_slot(whole->cache, &slot), EXG_OK);
    const std::vector<int32_t> prompt = {2, 17, 5, 99, 42, 7};
    const std::vector<int32_t> len = {static_cast<int32_t>(prompt.size())};
    std::vector<float> want;
    ASSERT_EQ(step(*whole, false, {slot}, len, prompt, want), EXG_OK) << exg_last_error_message();

    auto plugged = cpu_backend(kTestFfn);
    Plugin ffn(kTestFfn);
    exg_comm* comms[2] = {nullptr, nullptr};
    ASSERT_EQ(exg_comm_create_host_group(2, 10000, comms), EXG_OK);
    auto r0 = open_session(plugged.get(), "tiny", 0, 2, comms[0]);
    auto r1 = open_session(plugged.get(), "tiny", 1, 2, comms[1]);
    int32_t s0 = -1, s1 = -1;
    ASSERT_EQ(exg_kv_cache_alloc_slot(r0->cache, &s0), EXG_OK);
    ASSERT_EQ(exg_kv_cache_alloc_slot(r1->cache, &s1), EXG_OK);
    const uint64_t calls = ffn_calls(ffn);
    const int32_t bias_calls = ffn.call<int32_t>("exg_test_ffn_bias_calls");
    std::vector<float> got0, got1;
    exg_status st1 = EXG_OK;
    std::thread peer([&] { st1 = step(*r1, false, {s1}, len, prompt, got1); });
    EXPECT_EQ(step(*r0, false, {s0}, len, prompt, got0), EXG_OK) << exg_last_error_message();
    peer.join();
    EXPECT_EQ(st1, EXG_OK);
    const int32_t layers = r0->config.num_layers;
    EXPECT_EQ(ffn_calls(ffn) - calls, static_cast<uint64_t>(2 * layers));
    EXPECT_EQ(ffn.call<int32_t>("exg_test_ffn_bias_calls") - bias_calls, layers);
    expect_close(got0, want);
    expect_close(got1, want);
    r0.reset();
    r1.reset();
    exg_comm_free(comms[0]);
    exg_comm_free(comms[1]);
}

TEST(KernelPlugin, AFailingOpIsAStatusAndTheModelStaysUsable) {
    auto plain = cpu_backend();
    const auto want = run_script(*open_session(plain.get(), "tiny"));
    auto plugged = cpu_backend(kTestFfn);
    Plugin ffn(kTestFfn);
    auto session = open_session(plugged.get(), "tiny");
    int32_t slot = -1;
    ASSERT_EQ(exg_kv_cache_alloc_slot(session->cache, &slot), EXG_OK);
    std::vector<float> logits;

    ffn.call<void>("exg_test_ffn_fail_with", static_cast<int32_t>(EXG_ERR_UNSUPPORTED));
    EXPECT_EQ(step(*session, false, {slot}, {3}, {2, 5, 9}, logits), EXG_ERR_UNSUPPORTED);
    EXPECT_STREQ(exg_last_error_message(), "kernel library 'test-ffn': ffn failed: injected failure in layer 0");
    ffn.call<void>("exg_test_ffn_fail_with", int32_t{1234});
    EXPECT_EQ(step(*session, false, {slot}, {3}, {2, 5, 9}, logits), EXG_ERR_INTERNAL);
    EXPECT_NE(std::string(exg_last_error_message()).find("1234"), std::string::npos) << exg_last_error_message();
    ffn.call<void>("exg_test_ffn_fail_with", int32_t{0});

    int32_t len = -1;
    ASSERT_EQ(exg_kv_cache_seq_len(session->cache, slot, &len), EXG_OK);
    EXPECT_EQ(len, 0) << "a failed step must not extend the sequence";
    ASSERT_EQ(exg_kv_cache_free_slot(session->cache, slot), EXG_OK);
    expect_close(run_script(*session), want);
}

TEST(KernelPlugin, LoadErrorsAreStatusesNamingThePath) {
    const std::string text_file = ::testing::TempDir() + "exegpt-not-a-library.so";
    std::ofstream(text_file) << "not an ELF file\n";
    struct Case {
        std::string path;
        exg_status status;
        const char* says;
    };
    const Case cases[] = {
        {"/no/such/dir/libmissing.so", EXG_ERR_IO, "No such file"},
        {kBadDir, EXG_ERR_IO, "not a regular file"},
        {"libc.so.6", EXG_ERR_IO, "No such file"},  // a bare name is a file in the working directory, not searched
        {text_file, EXG_ERR_FORMAT, "could not be loaded"},
        {bad_library("no_symbol"), EXG_ERR_FORMAT, "does not export exg_kernels_get"},
        {bad_library("null_table"), EXG_ERR_UNSUPPORTED, "does not support kernel ABI version 1"},
        {bad_library("other_version"), EXG_ERR_UNSUPPORTED, "kernel ABI version 2"},
        {bad_library("no_ops"), EXG_ERR_FORMAT, "provides no op"},
        {bad_library("no_name"), EXG_ERR_FORMAT, "has no name"},
    };
    auto backend = cpu_backend();
    for (const auto& c : cases) {
        SCOPED_TRACE(c.path);
        EXPECT_EQ(exg_backend_load_kernel_library(backend.get(), c.path.c_str()), c.status);
        const std::string message = exg_last_error_message();
        EXPECT_NE(message.find(c.path), std::string::npos) << message;
        EXPECT_NE(message.find(c.says), std::string::npos) << message;
        EXPECT_EQ(exg_backend_kernel_library_name(backend.get()), nullptr);
        EXPECT_EQ(exg_backend_kernel_ops(backend.get()), static_cast<uint32_t>(EXG_KERNEL_OP_NONE));
    }
    std::remove(text_file.c_str());

    // After all that the backend still takes a good library, once.
    ASSERT_EQ(exg_backend_load_kernel_library(backend.get(), kExample), EXG_OK) << exg_last_error_message();
    EXPECT_EQ(exg_backend_load_kernel_library(backend.get(), kTestFfn), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(exg_last_error_message()).find("already runs kernel library 'example-simple-attention'"),
              std::string::npos)
        << exg_last_error_message();
    EXPECT_STREQ(exg_backend_kernel_library_name(backend.get()), "example-simple-attention");

    EXPECT_EQ(exg_backend_load_kernel_library(nullptr, kExample), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_backend_load_kernel_library(backend.get(), nullptr), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_backend_load_kernel_library(cpu_backend().get(), ""), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(exg_backend_kernel_library_name(nullptr), nullptr);
    EXPECT_EQ(exg_backend_kernel_ops(nullptr), static_cast<uint32_t>(EXG_KERNEL_OP_NONE));
}

TEST(KernelPlugin, ABareFileNameIsOpenedInTheWorkingDirectory) {
    const std::string path = kExample;
    const auto slash = path.rfind('/');
    ASSERT_NE(slash, std::string::npos);
    char previous[4096];
    ASSERT_NE(getcwd(previous, sizeof previous), nullptr);
    ASSERT_EQ(chdir(path.substr(0, slash).c_str()), 0);
    auto backend = cpu_backend();
    const exg_status status = exg_backend_load_kernel_library(backend.get(), path.substr(slash + 1).c_str());
    const std::string message = exg_last_error_message();
    ASSERT_EQ(chdir(previous), 0);
    EXPECT_EQ(status, EXG_OK) << message;
    EXPECT_STREQ(exg_backend_kernel_library_name(backend.get()), "example-simple-attention");
}

}  // namespace
