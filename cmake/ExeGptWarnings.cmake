# Warnings as errors for our own targets only (third-party headers are included as SYSTEM).
# EXEGPT_WARNINGS_AS_ERRORS=OFF keeps the warnings but not the errors: for a compiler newer than CI's (the
# GPU machine's, via bench/gpu/run.sh), whose new warnings must not stop a build that CI already checks.
option(EXEGPT_WARNINGS_AS_ERRORS "Treat compiler warnings of ExeGPT's own targets as errors" ON)

# The flags apply to C++ sources only: nvcc does not take them (a target with CUDA sources adds its own
# CUDA flags, as backend/cuda/CMakeLists.txt does).
function(exegpt_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE
                           "$<$<COMPILE_LANGUAGE:CXX>:/W4>"
                           "$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${EXEGPT_WARNINGS_AS_ERRORS}>>:/WX>")
  else()
    target_compile_options(${target} PRIVATE
                           "$<$<COMPILE_LANGUAGE:CXX>:-Wall;-Wextra;-Wpedantic;-Wshadow;-Wno-unused-parameter>"
                           "$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${EXEGPT_WARNINGS_AS_ERRORS}>>:-Werror>")
  endif()
endfunction()
