# Warnings applied to every Guardian target through guardian_set_warnings(<target>).
# GUARDIAN_WERROR makes them errors (CI), except -Wmaybe-uninitialized, which g++ 12 reports
# falsely inside libstdc++'s std::regex when the sanitizers are on.
function(guardian_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wdouble-promotion
    -Wno-missing-field-initializers)
  if(GUARDIAN_WERROR)
    target_compile_options(${target} PRIVATE -Werror -Wno-error=maybe-uninitialized)
  endif()
endfunction()
