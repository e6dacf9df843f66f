# Finds a CBLAS for the CPU backend and defines the imported target exegpt::blas.
# Preference: OpenBLAS's own CMake package (Debian ships one), then FindBLAS + cblas.h.
# EXG_HAVE_OPENBLAS is defined when openblas_set_num_threads can be called to honour the caller's
# thread count.
include_guard(GLOBAL)
include(CheckSymbolExists)

add_library(exegpt_blas INTERFACE)
add_library(exegpt::blas ALIAS exegpt_blas)

find_package(OpenBLAS CONFIG QUIET)
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
