#include "machine_info.h"

#include <cblas.h>

#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

namespace {

std::string cpuinfo_field(const std::string& key) {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key, 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? "" : line.substr(colon + 2);
        }
    return "";
}

}  // namespace

nlohmann::ordered_json describe_host() {
    nlohmann::ordered_json m;
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    m["hostname"] = host;
    m["cpu_model"] = cpuinfo_field("model name");
    m["cpu_mhz"] = cpuinfo_field("cpu MHz");
    m["logical_cpus"] = std::thread::hardware_concurrency();
    std::ifstream meminfo("/proc/meminfo");
    std::string first;
    std::getline(meminfo, first);
    m["memory"] = first;
    m["blas"] = openblas_get_config();
    return m;
}
