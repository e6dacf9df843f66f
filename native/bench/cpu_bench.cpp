// exegpt-bench: CPU prefill/decode throughput of random OPT-shaped models at several batch sizes,
// and the GEMM path's GFLOP/s against the machine's measured FMA peak. Medians of repeated runs.
//
//   exegpt-bench [--models opt-125m,opt-1.3b] [--batches 1,8,32] [--prompt-len 32] [--decode-steps 16]
//                [--repeats 3] [--threads N] [--out results.json]
#include "backend/cpu/cpu_backend.h"
#include "bench_common.h"
#include "fma_peak.h"
#include "machine_info.h"

#include <exegpt/exegpt.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>


namespace {

using Clock = std::chrono::steady_clock;
using exg::bench::median;
using nlohmann::ordered_json;

struct Options {
    std::vector<std::string> models = {"opt-125m", "opt-1.3b"};
    std::vector<int> batches = {1, 8, 32};
    int prompt_len = 32;
    int decode_steps = 16;
    int repeats = 3;
    int threads = 0;
    std::string out;
};

const exg::bench::Program kProgram{"exegpt-bench",
                                   "[--models a,b] [--batches 1,8,32] [--prompt-len N] [--decode-steps N] [--repeats N]"
                                   " [--threads N] [--out FILE]"};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) kProgram.usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--models") o.models = exg::bench::split(value());
        else if (a == "--batches") o.batches = kProgram.parse_ints(a, value());
        else if (a == "--prompt-len") o.prompt_len = kProgram.parse_int(a, value());
        else if (a == "--decode-steps") o.decode_steps = kProgram.parse_int(a, value());
        else if (a == "--repeats") o.repeats = kProgram.parse_int(a, value());
        else if (a == "--threads") o.threads = kProgram.parse_int(a, value());
        else if (a == "--out") o.out = value();
        else if (a == "-h" || a == "--help") kProgram.usage_error("help");
        else kProgram.usage_error("unknown argument \"" + a + "\"");
    }
    if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return o;
}

ordered_json describe_machine(int threads, const FmaPeak& peak) {
    ordered_json m = describe_host();
    m["threads_used"] = threads;
    m["fma_isa"] = peak.isa;
    m["measured_fma_peak_gflops"] = peak.gflops;
    return m;
}

void check(exg_status s, const char* what) {
    if (s != EXG_OK) {
        std::cerr << "exegpt-bench: " << what << " failed: " << exg_status_name(s) << ": " << exg_last_error_message() << "\n";
        std::exit(1);
    }
}

// The GEMM path the engine uses (CpuBackend::gemm = CBLAS + bias/activation epilogue).
ordered_json bench_gemms(int threads, double peak_gflops, int repeats) {
    exg::CpuBackend backend(threads);
    struct Shape { const char* name; int64_t m, n, k; int act; };
    const Shape shapes[] = {
        {"opt-1.3b fc1, decode batch 1", 1, 8192, 2048, EXG_ACT_RELU},
        {"opt-1.3b fc1, decode batch 4", 4, 8192, 2048, EXG_ACT_RELU},
        {"opt-1.3b fc1, decode batch 8", 8, 8192, 2048, EXG_ACT_RELU},
        {"opt-1.3b fc1, decode batch 32", 32, 8192, 2048, EXG_ACT_RELU},
        {"opt-1.3b fc1, prefill 1024 tokens", 1024, 8192, 2048, EXG_ACT_RELU},
        {"opt-1.3b fc2, prefill 1024 tokens", 1024, 2048, 8192, -1},
        {"opt-1.3b qkv, prefill 1024 tokens", 1024, 6144, 2048, -1},
    };
    ordered_json rows = ordered_json::array();
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    for (const auto& s : shapes) {
        std::vector<float> a(static_cast<size_t>(s.m * s.k)), w(static_cast<size_t>(s.n * s.k)), bias(static_cast<size_t>(s.n)),
            out(static_cast<size_t>(s.m * s.n));
        for (auto* v : {&a, &w, &bias})
            for (auto& x : *v) x = u(rng);
        const exg::GemmParams p{s.m, s.n, s.k, a.data(), s.k, w.data(), s.k, bias.data(), out.data(), s.n, s.act, 0};
        backend.gemm(p);  // warm-up
        std::vector<double> times;
        const int inner = s.m == 1 ? 50 : s.m <= 32 ? 10 : 1;
        for (int r = 0; r < std::max(3, repeats); ++r) {
            const auto t0 = Clock::now();
            for (int i = 0; i < inner; ++i) backend.gemm(p);
            times.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / inner);
        }
        const double t = median(times);
        const double gflops = 2.0 * s.m * s.n * s.k / t / 1e9;
        ordered_json row;
        row["shape"] = s.name;
        row["m"] = s.m;
        row["n"] = s.n;
        row["k"] = s.k;
        row["median_ms"] = t * 1e3;
        row["gflops"] = gflops;
        row["fraction_of_peak"] = peak_gflops > 0 ? gflops / peak_gflops : 0.0;
        std::printf("  gemm %-36s %8.2f ms %8.1f GFLOP/s  %5.1f%% of peak\n", s.name, t * 1e3, gflops,
                    peak_gflops > 0 ? 100 * gflops / peak_gflops : 0.0);
        rows.push_back(row);
    }
    return rows;
}

ordered_json bench_model(const std::string& preset, const Options& o) {
    exg_backend_params bp{sizeof(exg_backend_params), EXG_BACKEND_CPU, 0, o.threads, -1};
    exg_backend* backend = nullptr;
    check(exg_backend_create(&bp, &backend), "backend");
    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    check(exg_config_preset(preset.c_str(), &mp.config), "preset");
    mp.seed = 7;
    mp.layer_end = mp.config.num_layers;
    mp.tp_size = 1;
    const auto t_load = Clock::now();
    exg_model* model = nullptr;
    check(exg_model_create(backend, &mp, &model), "model");
    const double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
    exg_model_info info{};
    info.struct_size = sizeof info;
    check(exg_model_get_info(model, &info), "info");
    const int max_batch = *std::max_element(o.batches.begin(), o.batches.end());
    exg_kv_cache_params kp{sizeof(exg_kv_cache_params), max_batch, o.prompt_len + o.decode_steps + 1};
    exg_kv_cache* cache = nullptr;
    check(exg_kv_cache_create(model, &kp, &cache), "kv cache");

    const auto& c = mp.config;
    // Matmul FLOPs (2 x weights touched), excluding attention scores: every token runs the layers,
    // only each sequence's last token runs the LM head.
    const double layer_params = 4.0 * c.hidden_size * c.hidden_size + 2.0 * c.hidden_size * c.ffn_dim;
    const double flops_per_token = 2.0 * c.num_layers * layer_params;
    const double flops_per_head = 2.0 * static_cast<double>(c.vocab_size) * c.word_embed_proj_dim;
    std::printf("%s: %.0f M parameters, loaded in %.1f s\n", preset.c_str(), info.parameter_bytes / 4.0 / 1e6, load_s);

    ordered_json rows = ordered_json::array();
    std::mt19937 rng(3);
    std::uniform_int_distribution<int32_t> tok(3, c.vocab_size - 1);
    for (int batch : o.batches) {
        std::vector<int32_t> slots(static_cast<size_t>(batch)), lens(static_cast<size_t>(batch), o.prompt_len);
        std::vector<int32_t> ids(static_cast<size_t>(batch * o.prompt_len)), next(static_cast<size_t>(batch));
        std::vector<float> logits(static_cast<size_t>(batch) * c.vocab_size);
        std::vector<double> prefill_times, step_times;
        for (int r = 0; r < o.repeats + 1; ++r) {  // the first round warms up
            for (auto& s : slots) check(exg_kv_cache_alloc_slot(cache, &s), "slot");
            for (auto& t : ids) t = tok(rng);
            exg_batch b{};
            b.struct_size = sizeof b;
            b.num_seqs = batch;
            b.slots = slots.data();
            b.seq_lens = lens.data();
            b.token_ids = ids.data();
            b.logits_out = logits.data();
            auto t0 = Clock::now();
            check(exg_model_prefill(model, cache, &b), "prefill");
            if (r > 0) prefill_times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            b.seq_lens = nullptr;
            b.token_ids = next.data();
            for (int step = 0; step < o.decode_steps; ++step) {
                for (auto& t : next) t = tok(rng);
                t0 = Clock::now();
                check(exg_model_decode(model, cache, &b), "decode");
                if (r > 0) step_times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            }
            for (auto s : slots) check(exg_kv_cache_free_slot(cache, s), "free");
        }
        const double tp = median(prefill_times), ts = median(step_times);
        ordered_json row;
        row["batch"] = batch;
        row["prompt_len"] = o.prompt_len;
        row["decode_steps"] = o.decode_steps;
        row["prefill_median_ms"] = tp * 1e3;
        row["prefill_tokens_per_s"] = batch * o.prompt_len / tp;
        row["prefill_matmul_gflops"] = (flops_per_token * o.prompt_len + flops_per_head) * batch / tp / 1e9;
        row["decode_step_median_ms"] = ts * 1e3;
        row["decode_tokens_per_s"] = batch / ts;
        row["decode_matmul_gflops"] = (flops_per_token + flops_per_head) * batch / ts / 1e9;
        std::printf("  batch %3d  prefill %9.1f tok/s (%7.1f ms)   decode %8.1f tok/s (%7.2f ms/step)\n", batch,
                    batch * o.prompt_len / tp, tp * 1e3, batch / ts, ts * 1e3);
        std::fflush(stdout);
        rows.push_back(row);
    }
    exg_kv_cache_free(cache);
    exg_model_free(model);
    exg_backend_free(backend);

    ordered_json result;
    result["model"] = preset;
    result["parameters"] = info.parameter_bytes / 4;
    result["load_s"] = load_s;
    result["results"] = rows;
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    std::printf("exegpt-bench: %d threads\n", o.threads);
    FmaPeak peak = measure_fma_peak(o.threads);
    std::printf("measured FP32 FMA peak: %.1f GFLOP/s (%s)\n", peak.gflops, peak.isa.c_str());

    ordered_json doc;
    doc["benchmark"] = "exegpt-bench cpu";
    doc["date"] = exg::bench::utc_date();
    doc["machine"] = describe_machine(o.threads, peak);
    doc["settings"] = {{"prompt_len", o.prompt_len}, {"decode_steps", o.decode_steps}, {"repeats", o.repeats},
                       {"statistic", "median"}, {"dtype", "f32"}, {"weights", "seeded random"}};
    ordered_json gemms = bench_gemms(o.threads, peak.gflops, o.repeats);
    ordered_json models = ordered_json::array();
    for (const auto& m : o.models) models.push_back(bench_model(m, o));
    doc["models"] = models;
    // Measured again at the end: the best of both is the peak every GEMM row is compared with.
    const FmaPeak again = measure_fma_peak(o.threads);
    if (again.gflops > peak.gflops) {
        peak = again;
        for (auto& row : gemms) row["fraction_of_peak"] = row["gflops"].get<double>() / peak.gflops;
        std::printf("measured FP32 FMA peak (again, at the end): %.1f GFLOP/s\n", peak.gflops);
    }
    doc["machine"]["measured_fma_peak_gflops"] = peak.gflops;
    doc["gemm"] = gemms;
    return kProgram.write_json(doc, o.out) ? 0 : 1;
}
