#include "bench_common.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace exg::bench {

void Program::usage_error(const std::string& error) const {
    std::cerr << name << ": " << error << "\nusage: " << name << " " << usage << "\n";
    std::exit(2);
}

int Program::parse_int(const std::string& flag, const std::string& v, int min) const {
    try {
        size_t used = 0;
        const int x = std::stoi(v, &used);
        if (used != v.size() || x < min) throw std::invalid_argument(v);
        return x;
    } catch (const std::exception&) {
        usage_error(flag + " expects an integer >= " + std::to_string(min) + ", got \"" + v + "\"");
    }
}

std::vector<int> Program::parse_ints(const std::string& flag, const std::string& v) const {
    std::vector<int> xs;
    for (const auto& part : split(v)) xs.push_back(parse_int(flag, part));
    if (xs.empty()) usage_error(flag + " needs at least one number");
    return xs;
}

bool Program::write_json(const nlohmann::ordered_json& doc, const std::string& out) const {
    if (out.empty()) {
        std::cout << doc.dump(2) << "\n";
        return true;
    }
    std::ofstream file(out);
    file << doc.dump(2) << "\n";
    if (!file) {
        std::cerr << name << ": cannot write " << out << "\n";
        return false;
    }
    std::printf("results written to %s\n", out.c_str());
    return true;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> parts;
    std::stringstream ss(s);
    for (std::string p; std::getline(ss, p, ',');)
        if (!p.empty()) parts.push_back(p);
    return parts;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string utc_date() {
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return date;
}

}  // namespace exg::bench
