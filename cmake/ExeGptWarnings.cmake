# Warnings as errors for our own targets only (third-party headers are included as SYSTEM).
function(exegpt_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /WX)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter -Werror)
  endif()
endfunction()
