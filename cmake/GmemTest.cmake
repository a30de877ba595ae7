# gmem_add_selftest(<name> SOURCES <src>... [KVM|NOKVM] [SUBJECT <s>]
#                   [LIBS <lib>...] [LABELS <l>...] [TIMEOUT <s>] [CORPUS] [NOINSTALL])
#
# One standalone test program registered with CTest the kselftest way: exit
# code 4 is SKIP, a TIMEOUT bounds the whole program, and LABELS say whether it
# needs /dev/kvm (`kvm`) or not (`nokvm`), its subject, and `corpus` for the
# conformance programs that the main job (ci/conformance) runs.
#
# `cmake --install` puts the program into the installed tree's collection
# <subject>/ with its timeout and labels (cmake/GmemInstall.cmake), and with
# every helper program it names in add_dependencies(<name> <helper>): a
# program finds its helpers relative to itself (include/gmem/util/locate.hpp).
# NOINSTALL: a program that checks the source tree's own scripts and has no
# business on a machine under test (selftests/ci).
function(gmem_add_selftest name)
  cmake_parse_arguments(A "KVM;NOKVM;CORPUS;NOINSTALL" "SUBJECT;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
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
  # What the installed tree needs to know (cmake/GmemInstall.cmake).
  if(NOT A_SUBJECT)
    get_filename_component(A_SUBJECT ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  endif()
  set_target_properties(${name} PROPERTIES GMEM_SUBJECT ${A_SUBJECT} GMEM_TIMEOUT ${A_TIMEOUT}
                                           GMEM_LABELS "${labels}" GMEM_ARGS "${A_ARGS}"
                                           GMEM_NOINSTALL ${A_NOINSTALL})
  set_property(GLOBAL APPEND PROPERTY GMEM_SELFTESTS ${name})
endfunction()
