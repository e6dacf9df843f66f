// exegpt-gpu-bench: the CUDA backend's benchmark (issue 5's targets), the exegpt half of bench/gpu/run.sh.
// Sections: copy (device copy bandwidth), prefill (attention TFLOP/s), decode (decode attention GB/s), gemm
// (OPT-13B FFN GEMMs with epilogues), e2e (decode tokens/s of an OPT-13B-shaped model vs its memory roofline).
// Ops run through the internal Backend (backend_registry.h) and the model through the C ABI; medians of
// host-timed samples (bench_util.h). bench/gpu/peers.py measures the PyTorch side over the same shapes.
//
//   exegpt-gpu-bench [--only copy,prefill,decode,gemm,e2e] [--backend cuda|cpu] [--device N] [--dtype bf16|f16]
//                    [--samples N] [--copy-mib N] [--prefill-lengths L,..] [--prefill-tokens N] [--prefill-heads N]
//                    [--head-dim N] [--decode-batches B,..] [--decode-contexts C,..] [--decode-heads N]
//                    [--gemm-m M,..] [--hidden N] [--ffn N] [--model PRESET] [--e2e-batches B,..] [--prompt-len N]
//                    [--new-tokens N] [--layers N] [--checkpoint DIR] [--rounds N] [--out FILE]
//
// Exit status 1 when a section failed (the others still run and are written), 2 on bad arguments.
#include "backend/backend_registry.h"
#include "bench_util.h"
#include "core/dtype.h"
#include "kernel_bench.h"
#include "machine_info.h"
#include "model_bench.h"

#include <exegpt/exegpt.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using exg::gpubench::Options;
using nlohmann::ordered_json;

const char* const kSections[] = {"copy", "prefill", "decode", "gemm", "e2e"};

const exg::bench::Program kProgram{
    "exegpt-gpu-bench",
    "[--only copy,prefill,decode,gemm,e2e] [--backend cuda|cpu] [--device N] [--dtype bf16|f16] [--samples N]"
    " [--copy-mib N] [--prefill-lengths L,..] [--prefill-tokens N] [--prefill-heads N] [--head-dim N]"
    " [--decode-batches B,..] [--decode-contexts C,..] [--decode-heads N] [--gemm-m M,..] [--hidden N] [--ffn N]"
    " [--model PRESET] [--e2e-batches B,..] [--prompt-len N] [--new-tokens N] [--layers N] [--checkpoint DIR]"
    " [--rounds N] [--out FILE]"};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) kProgram.usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--only") {
            o.only = exg::bench::split(value());
            for (const auto& s : o.only)
                if (std::find(std::begin(kSections), std::end(kSections), s) == std::end(kSections))
                    kProgram.usage_error("--only: unknown section \"" + s + "\" (copy, prefill, decode, gemm, e2e)");
        } else if (a == "--backend") {
            const auto v = value();
            if (v != "cuda" && v != "cpu") kProgram.usage_error("--backend must be cuda or cpu");
            o.backend = v == "cuda" ? EXG_BACKEND_CUDA : EXG_BACKEND_CPU;
        } else if (a == "--device") {
            o.device = kProgram.parse_int(a, value(), 0);
        } else if (a == "--dtype") {
            const auto v = value();
            if (v != "bf16" && v != "f16") kProgram.usage_error("--dtype must be bf16 or f16");
            o.dtype = v == "bf16" ? EXG_DTYPE_BF16 : EXG_DTYPE_F16;
        } else if (a == "--samples") o.samples = kProgram.parse_int(a, value());
        else if (a == "--copy-mib") o.copy_bytes = static_cast<size_t>(kProgram.parse_int(a, value())) << 20;
        else if (a == "--prefill-lengths") o.prefill_lengths = kProgram.parse_ints(a, value());
        else if (a == "--prefill-tokens") o.prefill_tokens = kProgram.parse_int(a, value());
        else if (a == "--prefill-heads") o.prefill_heads = kProgram.parse_int(a, value());
        else if (a == "--head-dim") o.head_dim = kProgram.parse_int(a, value());
        else if (a == "--decode-batches") o.decode_batches = kProgram.parse_ints(a, value());
        else if (a == "--decode-contexts") o.decode_contexts = kProgram.parse_ints(a, value());
        else if (a == "--decode-heads") o.decode_heads = kProgram.parse_int(a, value());
        else if (a == "--gemm-m") o.gemm_m = kProgram.parse_ints(a, value());
        else if (a == "--hidden") o.hidden = kProgram.parse_int(a, value());
        else if (a == "--ffn") o.ffn = kProgram.parse_int(a, value());
        else if (a == "--model") o.model = value();
        else if (a == "--e2e-batches") o.e2e_batches = kProgram.parse_ints(a, value());
        else if (a == "--prompt-len") o.prompt_len = kProgram.parse_int(a, value());
        else if (a == "--new-tokens") o.new_tokens = kProgram.parse_int(a, value(), 2);  // one from the prefill, one decoded
        else if (a == "--layers") o.layers = kProgram.parse_int(a, value());
        else if (a == "--checkpoint") o.checkpoint = value();
        else if (a == "--rounds") o.rounds = kProgram.parse_int(a, value());
        else if (a == "--out") o.out = value();
        else if (a == "-h" || a == "--help") kProgram.usage_error("help");
        else kProgram.usage_error("unknown argument \"" + a + "\"");
    }
    return o;
}

// The device of the backend the ops run on: what exg_backend_device_info reports for it through the C ABI.
ordered_json describe_device(const exg::Backend& backend) {
    exg_device_info info{};
    info.struct_size = sizeof info;
    backend.device_info(info);
    ordered_json d;
    d["backend"] = backend.name();
    d["dtype"] = exg::dtype_name(backend.dtype());
    d["name"] = info.name;
    d["total_memory"] = info.total_memory;
    d["free_memory"] = info.free_memory;
    d["multiprocessors"] = info.multiprocessors;
    d["compute_capability"] = info.compute_capability;
    d["peak_bandwidth_gbps"] = info.peak_bandwidth_gbps;
    return d;
}

ordered_json settings(const Options& o) {
    return {{"samples", o.samples},
            {"copy_bytes", o.copy_bytes},
            {"prefill_lengths", o.prefill_lengths},
            {"prefill_tokens", o.prefill_tokens},
            {"prefill_heads", o.prefill_heads},
            {"head_dim", o.head_dim},
            {"decode_batches", o.decode_batches},
            {"decode_contexts", o.decode_contexts},
            {"decode_heads", o.decode_heads},
            {"gemm_m", o.gemm_m},
            {"hidden", o.hidden},
            {"ffn", o.ffn},
            {"model", o.model},
            {"e2e_batches", o.e2e_batches},
            {"prompt_len", o.prompt_len},
            {"new_tokens", o.new_tokens},
            {"layers", o.layers},
            {"checkpoint", o.checkpoint},
            {"rounds", o.rounds}};
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    ordered_json doc, errors = ordered_json::object();
    doc["benchmark"] = "exegpt-gpu-bench";
    doc["date"] = exg::bench::utc_date();
    doc["host"] = describe_host();
    doc["settings"] = settings(o);
    doc["statistic"] =
        "median of --samples samples; a sample = back-to-back calls filling ~10 ms between two backend "
        "synchronisations (host steady_clock), after one warm-up call";

    // A failing section is recorded and the next one runs: one broken op must not hide the others' numbers.
    auto section = [&](const char* name, const std::function<void()>& body) {
        try {
            body();
        } catch (const std::exception& e) {
            std::printf("  %s FAILED: %s\n", name, e.what());
            errors[name] = e.what();
        }
        std::fflush(stdout);
    };

    double copy_gbps = 0;
    {
        // The ops' backend is freed before the e2e model needs the device memory.
        std::unique_ptr<exg::Backend> backend;
        section("backend", [&] { backend = exg::create_backend(o.backend_params()); });
        if (backend) {
            section("device", [&] {
                doc["device"] = describe_device(*backend);
                std::printf("exegpt-gpu-bench on %s (%s)\n", doc["device"]["name"].get<std::string>().c_str(),
                            doc["device"]["dtype"].get<std::string>().c_str());
            });
            // The copy bandwidth is also the e2e roofline's denominator: measured whenever e2e runs.
            if (o.runs("copy") || o.runs("e2e"))
                section("copy", [&] {
                    doc["copy"] = exg::gpubench::bench_copy(*backend, o);
                    copy_gbps = doc["copy"]["gbps"].get<double>();
                });
            using namespace exg::gpubench;
            if (o.runs("prefill")) section("prefill", [&] { doc["prefill_attention"] = bench_prefill_attention(*backend, o); });
            if (o.runs("decode")) section("decode", [&] { doc["decode_attention"] = bench_decode_attention(*backend, o); });
            if (o.runs("gemm")) section("gemm", [&] { doc["gemm"] = bench_gemm(*backend, o); });
        }
    }
    if (o.runs("e2e")) section("e2e", [&] { doc["decode_e2e"] = exg::gpubench::bench_decode_model(o, copy_gbps); });
    doc["errors"] = errors;
    if (!kProgram.write_json(doc, o.out)) return 1;
    return errors.empty() ? 0 : 1;
}
