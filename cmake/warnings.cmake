# Warning flags are applied per target (never through an interface target
# linked into the exported library, which would leak them to users).
function(hyd_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion)
  if(HYPERD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Criterion's macros trip -Wconversion: tests get a lighter set.
function(hyd_set_test_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(HYPERD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
