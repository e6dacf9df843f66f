// EXG_HOST_DEVICE marks a function that nvcc compiles for both the host and the device; for a host-only
// compiler (and for the host tests that check the very functions the kernels call) it is empty.
#pragma once

#if defined(__CUDACC__)
#define EXG_HOST_DEVICE __host__ __device__
#else
#define EXG_HOST_DEVICE
#endif
