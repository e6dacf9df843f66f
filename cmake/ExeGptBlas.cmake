# Finds a CBLAS for the CPU backend and defines the imported target exegpt::blas.
# Preference: the OpenMP build of OpenBLAS (Debian: libopenblas-openmp-dev; first one unpacked under a
# CMAKE_PREFIX_PATH entry, then the system's), then any OpenBLAS CMake package, then FindBLAS + cblas.h.
# The CPU backend calls BLAS from its own OpenMP threads; the pthread build serialises concurrent
# callers (measured: half the GEMM rate on 2 cores), the OpenMP build shares one thread pool with us.
# The library is linked by full path from its variant directory, so the build RPATH picks that
# variant over the system alternative.
# EXG_HAVE_OPENBLAS is defined when openblas_set_num_threads can be called to honour the caller's
# thread count.
include_guard(GLOBAL)
include(CheckSymbolExists)

add_library(exegpt_blas INTERFACE)
add_library(exegpt::blas ALIAS exegpt_blas)

# First, a Debian OpenMP OpenBLAS unpacked (dpkg -x) under a CMAKE_PREFIX_PATH entry: the GPU machine has
# no OpenBLAS and gets it that way (bench/gpu/bundle.sh). Its OpenBLASConfig.cmake names absolute /usr
# paths, so the library and cblas.h are looked up in the prefix's multiarch folders directly.
set(_exg_prefix_lib_dirs)
set(_exg_prefix_inc_dirs)
foreach(_exg_prefix IN LISTS CMAKE_PREFIX_PATH)
  file(GLOB _exg_dirs LIST_DIRECTORIES true "${_exg_prefix}/lib/*/openblas-openmp")
  list(APPEND _exg_prefix_lib_dirs ${_exg_dirs})
  file(GLOB _exg_dirs LIST_DIRECTORIES true "${_exg_prefix}/include/*/openblas-openmp")
  list(APPEND _exg_prefix_inc_dirs ${_exg_dirs})
endforeach()
if(_exg_prefix_lib_dirs AND _exg_prefix_inc_dirs)
  find_library(EXEGPT_PREFIX_OPENBLAS_LIBRARY openblas PATHS ${_exg_prefix_lib_dirs} NO_DEFAULT_PATH)
  find_path(EXEGPT_PREFIX_OPENBLAS_INCLUDE cblas.h PATHS ${_exg_prefix_inc_dirs} NO_DEFAULT_PATH)
endif()

if(EXEGPT_PREFIX_OPENBLAS_LIBRARY AND EXEGPT_PREFIX_OPENBLAS_INCLUDE)
  set(_exg_blas_libs ${EXEGPT_PREFIX_OPENBLAS_LIBRARY})
  set(_exg_blas_inc ${EXEGPT_PREFIX_OPENBLAS_INCLUDE})
else()
  find_package(OpenBLAS CONFIG QUIET NO_DEFAULT_PATH
    PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp/cmake/openblas)
  if(NOT OpenBLAS_FOUND)
    find_package(OpenBLAS CONFIG QUIET)
  endif()
  if(OpenBLAS_FOUND AND OpenBLAS_LIBRARIES)
    set(_exg_blas_libs ${OpenBLAS_LIBRARIES})
    set(_exg_blas_inc ${OpenBLAS_INCLUDE_DIRS})
  else()
    set(BLA_VENDOR OpenBLAS)
    find_package(BLAS)
    if(NOT BLAS_FOUND)
      unset(BLA_VENDOR)
      find_package(BLAS REQUIRED)
    endif()
    set(_exg_blas_libs ${BLAS_LIBRARIES})
    find_path(_exg_blas_inc cblas.h PATH_SUFFIXES openblas-pthread openblas x86_64-linux-gnu REQUIRED)
  endif()
endif()

target_link_libraries(exegpt_blas INTERFACE ${_exg_blas_libs})
target_include_directories(exegpt_blas SYSTEM INTERFACE ${_exg_blas_inc})

set(CMAKE_REQUIRED_LIBRARIES ${_exg_blas_libs})
set(CMAKE_REQUIRED_INCLUDES ${_exg_blas_inc})
check_symbol_exists(openblas_set_num_threads "cblas.h" EXG_HAVE_OPENBLAS)
unset(CMAKE_REQUIRED_LIBRARIES)
unset(CMAKE_REQUIRED_INCLUDES)
if(EXG_HAVE_OPENBLAS)
  target_compile_definitions(exegpt_blas INTERFACE EXG_HAVE_OPENBLAS=1)
endif()
message(STATUS "ExeGPT BLAS: ${_exg_blas_libs} (OpenBLAS thread control: ${EXG_HAVE_OPENBLAS})")
if(NOT "${_exg_blas_libs}" MATCHES "openmp")
  message(WARNING "ExeGPT: not the OpenMP build of OpenBLAS (${_exg_blas_libs}); multi-threaded GEMMs will be slower. "
                  "On Debian: apt-get install libopenblas-openmp-dev")
endif()
