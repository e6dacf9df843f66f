// What every committed benchmark result says about the machine it ran on.
#pragma once

#include <nlohmann/json.hpp>

// hostname, CPU model and clock, logical CPUs, memory, the BLAS build.
nlohmann::ordered_json describe_host();
