# gmem_add_selftest(<name> SOURCES <src>... [KVM|NOKVM] [SUBJECT <s>]
#                   [LIBS <lib>...] [LABELS <l>...] [TIMEOUT <s>] [CORPUS])
#
# One standalone test program registered with CTest the kselftest way: exit
# code 4 is SKIP, a TIMEOUT bounds the whole program, and LABELS say whether it
# needs /dev/kvm (`kvm`) or not (`nokvm`), its subject, and `corpus` for the
# conformance programs that the main job (ci/conformance) runs.
function(gmem_add_selftest name)
  cmake_parse_arguments(A "KVM;NOKVM;CORPUS" "SUBJECT;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  if(A_KVM AND A_NOKVM)
    message(FATAL_ERROR "${name}: KVM and NOKVM are exclusive")
  endif()
  if(NOT A_KVM AND NOT A_NOKVM)
    message(FATAL_ERROR "${name}: say KVM or NOKVM")
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE gmem::harness gmem_warnings ${A_LIBS})
  add_test(NAME ${name} COMMAND ${name} ${A_ARGS})
  set(labels ${A_LABELS})
  if(A_KVM)
    list(APPEND labels kvm)
  else()
    list(APPEND labels nokvm)
  endif()
  if(A_SUBJECT)
    list(APPEND labels ${A_SUBJECT})
  endif()
  if(A_CORPUS)
    list(APPEND labels corpus)
  endif()
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 4 TIMEOUT ${A_TIMEOUT}
                                          LABELS "${labels}")
endfunction()
