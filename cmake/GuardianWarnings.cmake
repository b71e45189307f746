# Warnings applied to every Guardian target through guardian_set_warnings(<target>).
function(guardian_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wdouble-promotion
    -Wno-missing-field-initializers)
endfunction()
