#include "model_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace exg::gpubench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::ordered_json;

void check(exg_status status, const char* what) {
    if (status != EXG_OK)
        throw std::runtime_error(std::string(what) + " failed: " + exg_status_name(status) + ": " +
                                 exg_last_error_message());
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The C ABI objects of one run, freed in reverse order whatever happens.
struct Engine {
    exg_backend* backend = nullptr;
    exg_model* model = nullptr;
    exg_kv_cache* cache = nullptr;
    Engine() = default;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    ~Engine() {
        exg_kv_cache_free(cache);
        exg_model_free(model);
        exg_backend_free(backend);
    }
};

struct Round {
    double prefill_s;  // prefill + sampling the first new token
    double decode_s;   // the new_tokens - 1 decode steps, each with its sampling
};

// One generation of new_tokens tokens for `batch` fresh sequences of prompt_len random tokens, greedy, the
// logits never leaving the backend.
Round generate(Engine& e, int32_t batch, int prompt_len, int new_tokens, int32_t vocab, std::mt19937& rng) {
    std::vector<int32_t> slots(static_cast<size_t>(batch)), lens(static_cast<size_t>(batch), prompt_len);
    std::vector<int32_t> ids(static_cast<size_t>(batch) * prompt_len), tokens(static_cast<size_t>(batch));
    std::vector<uint64_t> rng_states(static_cast<size_t>(batch));
    std::uniform_int_distribution<int32_t> token(3, vocab - 1);  // past OPT's pad/bos/eos ids
    for (auto& t : ids) t = token(rng);
    for (auto& s : slots) check(exg_kv_cache_alloc_slot(e.cache, &s), "exg_kv_cache_alloc_slot");
    exg_sampling_params greedy{};
    greedy.struct_size = sizeof greedy;
    greedy.greedy = 1;
    greedy.temperature = 1.0f;
    greedy.top_p = 1.0f;
    exg_batch b{};
    b.struct_size = sizeof b;
    b.num_seqs = batch;
    b.slots = slots.data();
    b.seq_lens = lens.data();
    b.token_ids = ids.data();

    Round r{};
    auto t0 = Clock::now();
    check(exg_model_prefill(e.model, e.cache, &b), "exg_model_prefill");
    check(exg_model_sample(e.model, &greedy, rng_states.data(), tokens.data()), "exg_model_sample");
    r.prefill_s = since(t0);
    b.seq_lens = nullptr;
    b.token_ids = tokens.data();  // each step feeds the tokens the last one sampled
    t0 = Clock::now();
    for (int step = 1; step < new_tokens; ++step) {
        check(exg_model_decode(e.model, e.cache, &b), "exg_model_decode");
        check(exg_model_sample(e.model, &greedy, rng_states.data(), tokens.data()), "exg_model_sample");
    }
    r.decode_s = since(t0);
    for (auto s : slots) check(exg_kv_cache_free_slot(e.cache, s), "exg_kv_cache_free_slot");
    return r;
}

}  // namespace

ordered_json bench_decode_model(const Options& o, double copy_gbps) {
    Engine e;
    const exg_backend_params bp = o.backend_params();
    check(exg_backend_create(&bp, &e.backend), "exg_backend_create");

    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    mp.config.struct_size = sizeof mp.config;
    if (!o.checkpoint.empty()) {
        check(exg_config_from_checkpoint(o.checkpoint.c_str(), &mp.config), "exg_config_from_checkpoint");
        mp.checkpoint_dir = o.checkpoint.c_str();
    } else {
        check(exg_config_preset(o.model.c_str(), &mp.config), "exg_config_preset");
        if (o.layers > 0) mp.config.num_layers = o.layers;
        mp.seed = 13;
    }
    mp.layer_end = mp.config.num_layers;
    mp.tp_size = 1;
    const auto t_load = Clock::now();
    check(exg_model_create(e.backend, &mp, &e.model), "exg_model_create");
    const double load_s = since(t_load);
    exg_model_info info{};
    info.struct_size = sizeof info;
    check(exg_model_get_info(e.model, &info), "exg_model_get_info");
    const int max_batch = *std::max_element(o.e2e_batches.begin(), o.e2e_batches.end());
    const exg_kv_cache_params kp{sizeof(exg_kv_cache_params), max_batch, o.prompt_len + o.new_tokens};
    check(exg_kv_cache_create(e.model, &kp, &e.cache), "exg_kv_cache_create");

    const auto& c = mp.config;
    const double element = exg_backend_dtype(e.backend) == EXG_DTYPE_F32 ? 4.0 : 2.0;
    std::printf("  model: %d layers x %d hidden, %.2f GB of weights, loaded in %.1f s (%s)\n", c.num_layers,
                c.hidden_size, info.parameter_bytes / 1e9, load_s,
                o.checkpoint.empty() ? "seeded random weights" : o.checkpoint.c_str());

    ordered_json rows = ordered_json::array();
    std::mt19937 rng(5);
    for (const int batch : o.e2e_batches) {
        generate(e, batch, o.prompt_len, std::min(o.new_tokens, 4), c.vocab_size, rng);  // warm-up
        std::vector<double> prefill, decode, tokens_per_s;
        for (int r = 0; r < std::max(1, o.rounds); ++r) {
            const Round round = generate(e, batch, o.prompt_len, o.new_tokens, c.vocab_size, rng);
            prefill.push_back(round.prefill_s);
            decode.push_back(round.decode_s);
            tokens_per_s.push_back(static_cast<double>(batch) * (o.new_tokens - 1) / round.decode_s);
        }
        // Step j (1 .. new_tokens - 1) reads prompt_len + j cached positions of every layer: on average
        // prompt_len + new_tokens / 2.
        const double kv_bytes = static_cast<double>(batch) * c.num_layers * 2.0 * c.hidden_size * element *
                                (o.prompt_len + o.new_tokens / 2.0);
        const double step_bytes = static_cast<double>(info.parameter_bytes) + kv_bytes;
        const double roofline = copy_gbps > 0 ? batch / (step_bytes / (copy_gbps * 1e9)) : 0.0;
        ordered_json row;
        row["batch"] = batch;
        row["prefill_s"] = median(prefill);
        row["decode_s"] = median(decode);
        row["decode_tokens_per_s"] = median(tokens_per_s);
        row["step_ms"] = median(decode) / (o.new_tokens - 1) * 1e3;
        row["bytes_per_step"] = step_bytes;
        row["roofline_tokens_per_s"] = roofline;
        row["fraction_of_roofline"] = roofline > 0 ? row["decode_tokens_per_s"].get<double>() / roofline : 0.0;
        std::printf("  decode batch %3d: %9.1f tokens/s (%6.2f ms/step), roofline %9.1f (%.0f%%), prefill %.3f s\n",
                    batch, row["decode_tokens_per_s"].get<double>(), row["step_ms"].get<double>(), roofline,
                    100 * row["fraction_of_roofline"].get<double>(), median(prefill));
        std::fflush(stdout);
        rows.push_back(row);
    }

    ordered_json result;
    result["model"] = {{"weights", o.checkpoint.empty() ? "seeded random (" + o.model + " preset)" : o.checkpoint},
                       {"layers", c.num_layers},
                       {"hidden", c.hidden_size},
                       {"heads", c.num_heads},
                       {"ffn", c.ffn_dim},
                       {"vocab", c.vocab_size},
                       {"parameter_bytes", info.parameter_bytes},
                       {"load_s", load_s}};
    result["prompt_len"] = o.prompt_len;
    result["new_tokens"] = o.new_tokens;
    result["rounds"] = std::max(1, o.rounds);
    result["copy_gbps"] = copy_gbps;
    result["rows"] = rows;
    return result;
}

}  // namespace exg::gpubench
