# -DEXEGPT_SANITIZE=address,undefined builds every target with those sanitizers (GCC/Clang), e.g.
#   cmake -S native -B build/asan -DEXEGPT_SANITIZE=address,undefined && cmake --build build/asan && ctest --test-dir build/asan
set(EXEGPT_SANITIZE "" CACHE STRING "Comma-separated sanitizers for all targets (address, undefined, thread)")
if(EXEGPT_SANITIZE)
  if(MSVC)
    message(FATAL_ERROR "EXEGPT_SANITIZE is supported with GCC and Clang only")
  endif()
  # C++ only: nvcc does not take these flags (CUDA device code is checked with compute-sanitizer instead).
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${EXEGPT_SANITIZE};-fno-omit-frame-pointer;-fno-sanitize-recover=all>")
  add_link_options(-fsanitize=${EXEGPT_SANITIZE})
  message(STATUS "ExeGPT: sanitizers ${EXEGPT_SANITIZE}")
endif()
