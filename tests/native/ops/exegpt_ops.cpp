// exegpt-ops: op parity of every available backend against the reference backend, and a perf mode.
//
//   exegpt-ops [--backend cpu|cuda|all] [--filter SUBSTRING] [--perf [--repeats N]] [--json FILE]
//
// Exit status 1 when any op disagrees with the reference; 0 otherwise. Backends that cannot be
// created here (no CUDA library or device) are reported as skipped.
#include "backend/backend_registry.h"
#include "backend/ref/ref_backend.h"
#include "core/error.h"
#include "op_harness.h"

#include <nlohmann/json.hpp>

#if defined(EXG_HAVE_MACHINE_INFO)
#include "machine_info.h"
#endif

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

[[noreturn]] void usage(const std::string& error) {
    std::cerr << "exegpt-ops: " << error
              << "\nusage: exegpt-ops [--backend cpu|cuda|all] [--filter SUBSTRING] [--perf [--repeats N]] [--json FILE]\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string which = "all", filter, json_path;
    bool perf = false;
    int repeats = 20;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--backend") which = value();
        else if (a == "--filter") filter = value();
        else if (a == "--perf") perf = true;
        else if (a == "--repeats") {
            try {
                repeats = std::stoi(value());
            } catch (const std::exception&) {
                usage("--repeats expects a number");
            }
            if (repeats <= 0) usage("--repeats must be positive");
        } else if (a == "--json") json_path = value();
        else if (a == "-h" || a == "--help") usage("help");
        else usage("unknown argument \"" + a + "\"");
    }
    if (which != "cpu" && which != "cuda" && which != "all") usage("--backend must be cpu, cuda or all");

    exg::RefBackend reference;
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    int failures = 0, checked = 0;
    for (int32_t kind : {int32_t{EXG_BACKEND_CPU}, int32_t{EXG_BACKEND_CUDA}}) {
        const char* name = kind == EXG_BACKEND_CPU ? "cpu" : "cuda";
        if (which != "all" && which != name) continue;
        std::unique_ptr<exg::Backend> backend;
        try {
            backend = exg::create_backend({sizeof(exg_backend_params), kind, 0, 0});
        } catch (const exg::Error& e) {
            std::printf("%-5s skipped: %s\n", name, e.what());
            if (which == name) return 1;  // asked for explicitly: its absence is a failure
            continue;
        }
        for (const auto& c : exg::ops::op_cases()) {
            if (!filter.empty() && (c.op + " " + c.shape).find(filter) == std::string::npos) continue;
            nlohmann::ordered_json row;
            row["backend"] = name;
            row["op"] = c.op;
            row["shape"] = c.shape;
            try {
                const auto parity = exg::ops::check_parity(c, *backend, reference);
                ++checked;
                failures += parity.ok ? 0 : 1;
                row["ok"] = parity.ok;
                row["error_vs_scale"] = parity.error_vs_scale;
                std::printf("%-5s %-11s %-48s %s  err/scale %.2e", name, c.op.c_str(), c.shape.c_str(),
                            parity.ok ? "ok  " : "FAIL", parity.error_vs_scale);
                if (perf) {
                    const auto t = exg::ops::measure(c, *backend, repeats);
                    row["median_ms"] = t.median_ms;
                    row["gflops"] = t.gflops;
                    row["gbps"] = t.gbps;
                    std::printf("  %9.4f ms %8.2f GFLOP/s %8.2f GB/s", t.median_ms, t.gflops, t.gbps);
                }
                std::printf("\n");
            } catch (const exg::Error& e) {
                ++checked;
                ++failures;
                row["ok"] = false;
                row["error"] = e.what();
                std::printf("%-5s %-11s %-48s FAIL  %s\n", name, c.op.c_str(), c.shape.c_str(), e.what());
            }
            results.push_back(row);
        }
    }
    std::printf("%d ops checked, %d failed\n", checked, failures);
    if (!json_path.empty()) {
        std::ofstream out(json_path);
        nlohmann::ordered_json doc;
        doc["tool"] = "exegpt-ops";
#if defined(EXG_HAVE_MACHINE_INFO)
        doc["machine"] = describe_host();
#endif
        doc["statistic"] = perf ? "median of " + std::to_string(repeats) : "parity only";
        doc["results"] = results;
        out << doc.dump(2) << "\n";
    }
    return failures == 0 ? 0 : 1;
}
