# Warnings as errors for our own targets only (third-party headers are included as SYSTEM).
# EXEGPT_WARNINGS_AS_ERRORS=OFF keeps the warnings but not the errors: for a compiler newer than CI's (the
# GPU machine's, via bench/gpu/run.sh), whose new warnings must not stop a build that CI already checks.
option(EXEGPT_WARNINGS_AS_ERRORS "Treat compiler warnings of ExeGPT's own targets as errors" ON)

function(exegpt_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${EXEGPT_WARNINGS_AS_ERRORS}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter
                           $<$<BOOL:${EXEGPT_WARNINGS_AS_ERRORS}>:-Werror>)
  endif()
endfunction()
