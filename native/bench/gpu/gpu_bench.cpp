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
#include "kernel_bench.h"
#include "machine_info.h"
#include "model_bench.h"

#include <exegpt/exegpt.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using exg::gpubench::Options;
using nlohmann::ordered_json;

const char* const kSections[] = {"copy", "prefill", "decode", "gemm", "e2e"};

[[noreturn]] void usage(const std::string& error) {
    std::cerr << "exegpt-gpu-bench: " << error
              << "\nusage: exegpt-gpu-bench [--only copy,prefill,decode,gemm,e2e] [--backend cuda|cpu] [--device N]"
                 " [--dtype bf16|f16] [--samples N] [--copy-mib N] [--prefill-lengths L,..] [--prefill-tokens N]"
                 " [--prefill-heads N] [--head-dim N] [--decode-batches B,..] [--decode-contexts C,..]"
                 " [--decode-heads N] [--gemm-m M,..] [--hidden N] [--ffn N] [--model PRESET] [--e2e-batches B,..]"
                 " [--prompt-len N] [--new-tokens N] [--layers N] [--checkpoint DIR] [--rounds N] [--out FILE]\n";
    std::exit(2);
}

int parse_int(const std::string& flag, const std::string& v, int min = 1) {
    try {
        size_t used = 0;
        const int x = std::stoi(v, &used);
        if (used != v.size() || x < min) throw std::invalid_argument(v);
        return x;
    } catch (const std::exception&) {
        usage(flag + " expects an integer >= " + std::to_string(min) + ", got \"" + v + "\"");
    }
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> parts;
    std::stringstream ss(s);
    for (std::string p; std::getline(ss, p, ',');)
        if (!p.empty()) parts.push_back(p);
    return parts;
}

std::vector<int> parse_ints(const std::string& flag, const std::string& v) {
    std::vector<int> xs;
    for (const auto& part : split(v)) xs.push_back(parse_int(flag, part));
    if (xs.empty()) usage(flag + " needs at least one number");
    return xs;
}

struct Parsed {
    Options o;
    size_t copy_bytes = size_t{1} << 30;
};

Parsed parse(int argc, char** argv) {
    Parsed parsed;
    Options& o = parsed.o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--only") {
            o.only = split(value());
            for (const auto& s : o.only)
                if (std::find(std::begin(kSections), std::end(kSections), s) == std::end(kSections))
                    usage("--only: unknown section \"" + s + "\" (copy, prefill, decode, gemm, e2e)");
        } else if (a == "--backend") {
            const auto v = value();
            if (v != "cuda" && v != "cpu") usage("--backend must be cuda or cpu");
            o.backend = v == "cuda" ? EXG_BACKEND_CUDA : EXG_BACKEND_CPU;
        } else if (a == "--device") {
            o.device = parse_int(a, value(), 0);
        } else if (a == "--dtype") {
            const auto v = value();
            if (v != "bf16" && v != "f16") usage("--dtype must be bf16 or f16");
            o.dtype = v == "bf16" ? EXG_DTYPE_BF16 : EXG_DTYPE_F16;
        } else if (a == "--samples") o.samples = parse_int(a, value());
        else if (a == "--copy-mib") parsed.copy_bytes = static_cast<size_t>(parse_int(a, value())) << 20;
        else if (a == "--prefill-lengths") o.prefill_lengths = parse_ints(a, value());
        else if (a == "--prefill-tokens") o.prefill_tokens = parse_int(a, value());
        else if (a == "--prefill-heads") o.prefill_heads = parse_int(a, value());
        else if (a == "--head-dim") o.head_dim = parse_int(a, value());
        else if (a == "--decode-batches") o.decode_batches = parse_ints(a, value());
        else if (a == "--decode-contexts") o.decode_contexts = parse_ints(a, value());
        else if (a == "--decode-heads") o.decode_heads = parse_int(a, value());
        else if (a == "--gemm-m") o.gemm_m = parse_ints(a, value());
        else if (a == "--hidden") o.hidden = parse_int(a, value());
        else if (a == "--ffn") o.ffn = parse_int(a, value());
        else if (a == "--model") o.model = value();
        else if (a == "--e2e-batches") o.e2e_batches = parse_ints(a, value());
        else if (a == "--prompt-len") o.prompt_len = parse_int(a, value());
        else if (a == "--new-tokens") o.new_tokens = parse_int(a, value(), 2);  // one from the prefill, one decoded
        else if (a == "--layers") o.layers = parse_int(a, value());
        else if (a == "--checkpoint") o.checkpoint = value();
        else if (a == "--rounds") o.rounds = parse_int(a, value());
        else if (a == "--out") o.out = value();
        else if (a == "-h" || a == "--help") usage("help");
        else usage("unknown argument \"" + a + "\"");
    }
    return parsed;
}

const char* dtype_name(int32_t dtype) {
    switch (dtype) {
        case EXG_DTYPE_F32: return "f32";
        case EXG_DTYPE_F16: return "f16";
        case EXG_DTYPE_BF16: return "bf16";
        default: return "?";
    }
}

exg_backend_params backend_params(const Options& o) {
    return {sizeof(exg_backend_params), o.backend, o.device, 0, o.backend == EXG_BACKEND_CPU ? -1 : o.dtype};
}

// The device through the C ABI (exg_backend_device_info), as every consumer of the library sees it.
ordered_json describe_device(const Options& o) {
    const exg_backend_params bp = backend_params(o);
    exg_backend* backend = nullptr;
    if (exg_backend_create(&bp, &backend) != EXG_OK)
        throw std::runtime_error(std::string("exg_backend_create: ") + exg_last_error_message());
    exg_device_info info{};
    info.struct_size = sizeof info;
    const exg_status status = exg_backend_device_info(backend, &info);
    ordered_json d;
    d["backend"] = exg_backend_name(backend);
    d["dtype"] = dtype_name(exg_backend_dtype(backend));
    exg_backend_free(backend);
    if (status != EXG_OK) throw std::runtime_error(std::string("exg_backend_device_info: ") + exg_last_error_message());
    d["name"] = info.name;
    d["total_memory"] = info.total_memory;
    d["free_memory"] = info.free_memory;
    d["multiprocessors"] = info.multiprocessors;
    d["compute_capability"] = info.compute_capability;
    d["peak_bandwidth_gbps"] = info.peak_bandwidth_gbps;
    return d;
}

ordered_json settings(const Parsed& p) {
    const Options& o = p.o;
    return {{"samples", o.samples},
            {"copy_bytes", p.copy_bytes},
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
    const Parsed parsed = parse(argc, argv);
    const Options& o = parsed.o;
    ordered_json doc, errors = ordered_json::object();
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    doc["benchmark"] = "exegpt-gpu-bench";
    doc["date"] = date;
    doc["host"] = describe_host();
    doc["settings"] = settings(parsed);
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

    section("device", [&] {
        doc["device"] = describe_device(o);
        std::printf("exegpt-gpu-bench on %s (%s)\n", doc["device"]["name"].get<std::string>().c_str(),
                    doc["device"]["dtype"].get<std::string>().c_str());
    });
    double copy_gbps = 0;
    if (o.runs("copy") || o.runs("prefill") || o.runs("decode") || o.runs("gemm") || o.runs("e2e")) {
        // The ops' backend is freed before the e2e model needs the device memory.
        std::unique_ptr<exg::Backend> backend;
        section("backend", [&] { backend = exg::create_backend(backend_params(o)); });
        if (backend) {
            // The copy bandwidth is also the e2e roofline's denominator: measured whenever e2e runs.
            if (o.runs("copy") || o.runs("e2e"))
                section("copy", [&] {
                    doc["copy"] = exg::gpubench::bench_copy(*backend, o, parsed.copy_bytes);
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

    const std::string text = doc.dump(2) + "\n";
    if (o.out.empty()) {
        std::cout << text;
    } else {
        std::ofstream out(o.out);
        out << text;
        if (!out) {
            std::cerr << "exegpt-gpu-bench: cannot write " << o.out << "\n";
            return 1;
        }
        std::printf("results written to %s\n", o.out.c_str());
    }
    return errors.empty() ? 0 : 1;
}
