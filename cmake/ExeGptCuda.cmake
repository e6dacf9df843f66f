# Decides whether the CUDA backend (libexegpt_cuda.so) is built and enables the CUDA language for it.
#   EXEGPT_CUDA=AUTO (default): build it when a working CUDA compiler is found; ON: fail without one; OFF.
# Sets EXEGPT_HAVE_CUDA. Include after project(): it calls enable_language(CUDA).
#
# nvcc only accepts host compilers up to a version: CUDA 11.x takes GCC <= 11 and Clang <= 14, so with
# Debian 12's default GCC 12 the CUDA 11.8 of Debian's non-free component needs clang++-14. When the
# default does not fit and no host compiler was chosen (CMAKE_CUDA_HOST_COMPILER / CUDAHOSTCXX), a
# clang++ of a version nvcc accepts is picked here, before the language is enabled.
# Architectures default to SASS for sm_80, sm_86, sm_89 and sm_90 plus compute_90 PTX (the "-real"
# entries carry no PTX: one PTX is enough for newer GPUs to JIT from, and each one costs compile time);
# -DCMAKE_CUDA_ARCHITECTURES=... overrides.
include_guard(GLOBAL)

set(EXEGPT_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO (when a CUDA compiler is found), ON (required), OFF")
set_property(CACHE EXEGPT_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${EXEGPT_CUDA}" _exg_cuda_mode)
if(NOT _exg_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "EXEGPT_CUDA must be AUTO, ON or OFF (got '${EXEGPT_CUDA}')")
endif()
set(EXEGPT_HAVE_CUDA OFF)

# Reports that no CUDA backend will be built: an error when it was required.
function(_exegpt_no_cuda why)
  if(_exg_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "EXEGPT_CUDA=ON but ${why}")
  endif()
  message(STATUS "ExeGPT CUDA backend: not built (${why})")
endfunction()

# The nvcc to use: an explicit CMAKE_CUDA_COMPILER, then CUDACXX, then PATH and the usual install prefix.
# A failed earlier check leaves CMAKE_CUDA_COMPILER-NOTFOUND in the cache; look again (nvcc may have been
# installed since).
function(_exegpt_find_nvcc out)
  if(DEFINED CMAKE_CUDA_COMPILER AND NOT CMAKE_CUDA_COMPILER)
    unset(CMAKE_CUDA_COMPILER CACHE)
  endif()
  if(CMAKE_CUDA_COMPILER)
    set(${out} "${CMAKE_CUDA_COMPILER}" PARENT_SCOPE)
  elseif(DEFINED ENV{CUDACXX})
    set(${out} "$ENV{CUDACXX}" PARENT_SCOPE)
  else()
    find_program(EXEGPT_NVCC nvcc HINTS ENV CUDA_PATH PATH_SUFFIXES bin PATHS /usr/local/cuda/bin)
    set(${out} "${EXEGPT_NVCC}" PARENT_SCOPE)
  endif()
endfunction()

# Picks a host compiler nvcc accepts when the default one is too new (CUDA 11.x: GCC <= 11, Clang <= 14).
function(_exegpt_pick_cuda_host_compiler nvcc)
  if(CMAKE_CUDA_HOST_COMPILER OR DEFINED ENV{CUDAHOSTCXX})
    return()
  endif()
  execute_process(COMMAND "${nvcc}" --version OUTPUT_VARIABLE version_text ERROR_QUIET)
  if(NOT version_text MATCHES "release ([0-9]+)\\.([0-9]+)")
    return()
  endif()
  set(nvcc_major ${CMAKE_MATCH_1})
  if(nvcc_major GREATER 11)
    return()  # CUDA 12/13 accept the compilers of their time; CMake's check reports the rare misfit
  endif()
  if((CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 12) OR
     (CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 15))
    return()
  endif()
  find_program(EXEGPT_CUDA_CLANG NAMES clang++-14 clang++-13 clang++-12 clang++-11)
  if(EXEGPT_CUDA_CLANG)
    message(STATUS "ExeGPT CUDA: nvcc ${nvcc_major}.x does not accept ${CMAKE_CXX_COMPILER_ID} "
                   "${CMAKE_CXX_COMPILER_VERSION}; host compiler ${EXEGPT_CUDA_CLANG}")
    set(CMAKE_CUDA_HOST_COMPILER "${EXEGPT_CUDA_CLANG}" CACHE FILEPATH "Host compiler for nvcc" FORCE)
  endif()
endfunction()

if(WIN32 AND NOT _exg_cuda_mode STREQUAL "OFF")
  _exegpt_no_cuda("the CUDA backend is built on Linux only (libexegpt loads libexegpt_cuda.so with dlopen)")
elseif(NOT _exg_cuda_mode STREQUAL "OFF")
  _exegpt_find_nvcc(_exg_nvcc)
  if(NOT _exg_nvcc)
    _exegpt_no_cuda("no CUDA compiler (nvcc) was found; set CUDACXX or CMAKE_CUDA_COMPILER, or put nvcc on PATH")
  else()
    _exegpt_pick_cuda_host_compiler("${_exg_nvcc}")
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80-real;86-real;89-real;90" CACHE STRING "CUDA architectures of libexegpt_cuda")
    endif()
    # check_language builds a probe project in a child CMake, which sees only the environment: hand it the
    # compiler pair chosen above so it tests what enable_language will use.
    set(ENV{CUDACXX} "${_exg_nvcc}")
    if(CMAKE_CUDA_HOST_COMPILER)
      set(ENV{CUDAHOSTCXX} "${CMAKE_CUDA_HOST_COMPILER}")
    endif()
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      enable_language(CUDA)
      find_package(CUDAToolkit REQUIRED)
      set(EXEGPT_HAVE_CUDA ON)
      message(STATUS "ExeGPT CUDA backend: nvcc ${CMAKE_CUDA_COMPILER_VERSION} (${CMAKE_CUDA_COMPILER}), host "
                     "compiler ${CMAKE_CUDA_HOST_COMPILER}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
    else()
      set(_exg_why "${_exg_nvcc} could not compile a test program (CMakeFiles/CMakeError.log says why)")
      _exegpt_no_cuda("${_exg_why}, a host compiler it accepts can be set with CMAKE_CUDA_HOST_COMPILER")
    endif()
  endif()
endif()
