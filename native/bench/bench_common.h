// What both benchmarks (exegpt-bench, gpu/exegpt-gpu-bench) share: their command-line parsing, the median of
// samples, the UTC date stamp and the writing of the results.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace exg::bench {

// One benchmark program: its name and usage (the arguments after the name), for the messages about bad
// arguments and unwritable results.
struct Program {
    const char* name;
    const char* usage;

    // "<name>: <error>" and the usage on stderr, then exit status 2.
    [[noreturn]] void usage_error(const std::string& error) const;
    // The value of flag, an integer >= min (else usage_error).
    int parse_int(const std::string& flag, const std::string& v, int min = 1) const;
    // A comma-separated list of at least one such integer (min 1).
    std::vector<int> parse_ints(const std::string& flag, const std::string& v) const;
    // doc, indented, to the file `out`, or to stdout when out is empty. False (said on stderr) when the file
    // cannot be written.
    bool write_json(const nlohmann::ordered_json& doc, const std::string& out) const;
};

// The non-empty parts of a comma-separated list.
std::vector<std::string> split(const std::string& s);

// 0 for no samples.
double median(std::vector<double> v);

// Now as "2025-01-31T12:00:00Z".
std::string utc_date();

}  // namespace exg::bench
