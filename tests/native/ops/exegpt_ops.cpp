// exegpt-ops: op parity of every available backend against the reference backend, and a perf mode.
//
//   exegpt-ops [--backend cpu|cuda|all] [--dtype f32|f16|bf16|all] [--device N] [--full] [--filter SUBSTRING]
//              [--list] [--perf [--repeats N]] [--json FILE]
//
// The CPU backend is checked in F32; the CUDA backend in BF16 and F16 (each a backend of its own).
// --full runs the GPU machine's sweep (the default is the quick one CI runs). Exit status 1 when any op
// disagrees with the reference, or when a backend asked for by name cannot be created; 0 otherwise.
// Backends that cannot be created here are reported as skipped with the reason.
#include "backend/backend_registry.h"
#include "backend/ref/ref_backend.h"
#include "core/dtype.h"
#include "op_harness.h"

#include <nlohmann/json.hpp>

#if defined(EXG_HAVE_MACHINE_INFO)
#include "machine_info.h"
#endif

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: exegpt-ops [--backend cpu|cuda|all] [--dtype f32|f16|bf16|all] [--device N] [--full] [--filter SUBSTRING]\n"
    "                  [--list] [--perf [--repeats N]] [--json FILE]\n";

[[noreturn]] void usage(const std::string& error) {
    std::cerr << "exegpt-ops: " << error << "\n" << kUsage;
    std::exit(2);
}

using exg::dtype_name;

int parse_int(const std::string& flag, const std::string& text) {
    try {
        size_t used = 0;
        const int v = std::stoi(text, &used);
        if (used == text.size()) return v;
    } catch (const std::exception&) {
    }
    usage(flag + " expects a number, got \"" + text + "\"");
}

struct Target {
    int32_t kind;
    exg_dtype dtype;
    const char* name() const { return kind == EXG_BACKEND_CPU ? "cpu" : "cuda"; }
};

nlohmann::ordered_json parts_json(const exg::ops::ParityResult& r) {
    auto parts = nlohmann::ordered_json::array();
    for (const auto& p : r.parts) {
        nlohmann::ordered_json j;
        j["name"] = p.name;
        j["ok"] = p.ok;
        j["error_vs_scale"] = p.error_vs_scale;
        j["max_abs_error"] = p.max_abs_error;
        j["mismatches"] = p.mismatches;
        j["near_ties"] = p.near_ties;
        parts.push_back(j);
    }
    return parts;
}

}  // namespace

int main(int argc, char** argv) {
    std::string which = "all", dtypes = "all", filter, json_path;
    bool perf = false, full = false, list = false;
    int repeats = 20, device = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--backend") which = value();
        else if (a == "--dtype") dtypes = value();
        else if (a == "--device") device = parse_int(a, value());
        else if (a == "--full") full = true;
        else if (a == "--filter") filter = value();
        else if (a == "--list") list = true;
        else if (a == "--perf") perf = true;
        else if (a == "--repeats") {
            repeats = parse_int(a, value());
            if (repeats <= 0) usage("--repeats must be positive");
        } else if (a == "--json") json_path = value();
        else if (a == "-h" || a == "--help") {
            std::cout << kUsage;
            return 0;
        } else usage("unknown argument \"" + a + "\"");
    }
    if (which != "cpu" && which != "cuda" && which != "all") usage("--backend must be cpu, cuda or all");
    if (dtypes != "f32" && dtypes != "f16" && dtypes != "bf16" && dtypes != "all") usage("--dtype must be f32, f16, bf16 or all");
    if (which == "cpu" && dtypes != "f32" && dtypes != "all") usage("the CPU backend stores f32 only (--dtype " + dtypes + ")");
    if (which == "cuda" && dtypes == "f32") usage("the CUDA backend stores f16 or bf16, not f32");

    const auto cases = exg::ops::op_cases(full ? exg::ops::Sweep::Full : exg::ops::Sweep::Quick);
    auto selected = [&](const exg::ops::OpCase& c) { return filter.empty() || (c.op + " " + c.shape).find(filter) != std::string::npos; };
    if (list) {
        for (const auto& c : cases)
            if (selected(c)) std::printf("%-11s %s\n", c.op.c_str(), c.shape.c_str());
        return 0;
    }

    std::vector<Target> targets;
    for (Target t : {Target{EXG_BACKEND_CPU, EXG_DTYPE_F32}, Target{EXG_BACKEND_CUDA, EXG_DTYPE_BF16},
                     Target{EXG_BACKEND_CUDA, EXG_DTYPE_F16}})
        if ((which == "all" || which == t.name()) && (dtypes == "all" || dtypes == dtype_name(t.dtype))) targets.push_back(t);

    exg::RefBackend reference;
    nlohmann::ordered_json results = nlohmann::ordered_json::array(), backends = nlohmann::ordered_json::array();
    int failures = 0, checked = 0, near_ties = 0, missing = 0;
    for (const Target& t : targets) {
        nlohmann::ordered_json entry;
        entry["backend"] = t.name();
        entry["dtype"] = dtype_name(t.dtype);
        const std::string reason = exg::backend_unavailable_reason(t.kind);
        std::unique_ptr<exg::Backend> backend;
        if (reason.empty()) {
            try {
                backend = exg::create_backend({sizeof(exg_backend_params), t.kind, device, 0, static_cast<int32_t>(t.dtype)});
            } catch (const std::exception& e) {
                std::printf("%-4s %-4s FAIL  cannot create the backend: %s\n", t.name(), dtype_name(t.dtype), e.what());
                entry["status"] = "failed";
                entry["reason"] = e.what();
                backends.push_back(entry);
                ++failures;
                continue;
            }
        } else {
            std::printf("%-4s %-4s skipped: %s\n", t.name(), dtype_name(t.dtype), reason.c_str());
            entry["status"] = "skipped";
            entry["reason"] = reason;
            backends.push_back(entry);
            if (which == t.name()) ++missing;  // asked for by name: its absence is a failure
            continue;
        }
        exg_device_info info{};
        info.struct_size = sizeof info;
        backend->device_info(info);
        const double tolerance = exg::ops::tolerance(t.dtype);
        std::printf("%-4s %-4s on %s: tolerance %.3g on err/scale (max |error| / max |reference| of an output); "
                    "copies, caches, tokens and rng states exact\n",
                    t.name(), dtype_name(t.dtype), info.name, tolerance);
        entry["status"] = "run";
        entry["device"] = info.name;
        entry["tolerance"] = tolerance;
        const auto start = std::chrono::steady_clock::now();
        for (const auto& c : cases) {
            if (!selected(c)) continue;
            nlohmann::ordered_json row;
            row["backend"] = t.name();
            row["dtype"] = dtype_name(t.dtype);
            row["op"] = c.op;
            row["shape"] = c.shape;
            ++checked;
            try {
                const auto parity = exg::ops::check_parity(c, *backend, reference);
                failures += parity.ok ? 0 : 1;
                near_ties += static_cast<int>(parity.near_ties);
                row["ok"] = parity.ok;
                row["error_vs_scale"] = parity.error_vs_scale;
                row["near_ties"] = parity.near_ties;
                row["parts"] = parts_json(parity);
                std::printf("%-4s %-4s %-11s %-64s %s  %s", t.name(), dtype_name(t.dtype), c.op.c_str(), c.shape.c_str(),
                            parity.ok ? "ok  " : "FAIL", parity.summary().c_str());
                if (perf) {
                    const auto m = exg::ops::measure(c, *backend, repeats);
                    row["median_ms"] = m.median_ms;
                    row["gflops"] = m.gflops;
                    row["gbps"] = m.gbps;
                    std::printf("  %9.4f ms %8.2f GFLOP/s %8.2f GB/s", m.median_ms, m.gflops, m.gbps);
                }
                std::printf("\n");
            } catch (const std::exception& e) {
                ++failures;
                row["ok"] = false;
                row["error"] = e.what();
                std::printf("%-4s %-4s %-11s %-64s FAIL  %s\n", t.name(), dtype_name(t.dtype), c.op.c_str(), c.shape.c_str(), e.what());
            }
            std::fflush(stdout);
            results.push_back(row);
        }
        entry["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        backends.push_back(entry);
    }
    std::printf("%d ops checked, %d failed", checked, failures);
    if (near_ties > 0) std::printf(", %d near ties tolerated", near_ties);
    if (missing > 0) std::printf("; %d backend configurations asked for could not run", missing);
    std::printf("\n");
    if (!json_path.empty()) {
        std::ofstream out(json_path);
        nlohmann::ordered_json doc;
        doc["tool"] = "exegpt-ops";
#if defined(EXG_HAVE_MACHINE_INFO)
        doc["machine"] = describe_host();
#endif
        doc["sweep"] = full ? "full" : "quick";
        doc["statistic"] = perf ? "median of " + std::to_string(repeats) : "parity only";
        doc["backends"] = backends;
        doc["results"] = results;
        doc["checked"] = checked;
        doc["failed"] = failures;
        doc["unavailable"] = missing;
        out << doc.dump(2) << "\n";
        if (!out) {
            std::cerr << "exegpt-ops: cannot write " << json_path << "\n";
            return 1;
        }
    }
    return failures == 0 && missing == 0 ? 0 : 1;
}
