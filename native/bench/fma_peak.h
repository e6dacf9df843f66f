#pragma once

#include <string>

struct FmaPeak {
    std::string isa;    // widest FMA instruction set used ("" when none)
    double gflops = 0;  // all threads together
};

FmaPeak measure_fma_peak(int threads);
