# The installed corpus, laid out as kselftest's `make install` lays out its own
# (tools/testing/selftests/Makefile, run_kselftest.sh), so that the tree can
# be copied to the machine under test and run there without CMake, CTest, the
# build tree or the source tree:
#
#   cmake --install <build> --prefix DIR       (default DIR: <build>/kselftest_install)
#   cmake --build <build> --target package     (or cpack): <build>/gmem-selftests.tar.gz
#
#   DIR/run_kselftest.sh      the runner (ci/install/run_kselftest.sh)
#   DIR/kselftest-list.txt    collection:program, one a line (kselftest's format)
#   DIR/kselftest-labels.txt  collection:program and its CTest labels; `corpus`
#                             marks the programs of the conformance report
#   DIR/VERSION               `git describe` of the source tree at install time
#   DIR/<collection>/         a subject's programs, the helper programs and data
#                             they run or read, `settings` (timeout=N)
#   DIR/bin/                  gmem-probe, gmem-report, gmem-summary
#   DIR/lib/                  shared libraries beyond glibc (libstdc++, liburing,
#                             ...), found through RPATH $ORIGIN/../lib
#   DIR/spec/BEHAVIORS.md     the behaviour IDs (gmem-report, report_test)
#   DIR/known-kernel-failures the tests a kernel is known to fail (XFAIL)
#
# Programs find their helper files relative to their own executable
# (include/gmem/util/locate.hpp), with the build-tree path as the fallback, so
# the same binaries serve ctest in the build tree. Included once, from the top
# CMakeLists.txt after every target exists.
include_guard(GLOBAL)

option(GMEM_INSTALL_BUNDLE_LIBS
       "Install the shared libraries the programs need beyond glibc into lib/ (RPATH $ORIGIN/../lib)" ON)

# Not /usr/local: the tree is a self-contained test payload, as kselftest's is.
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX "${PROJECT_BINARY_DIR}/kselftest_install" CACHE PATH
      "Where cmake --install puts the kselftest-style tree" FORCE)
endif()

set(gmem_install_meta ${PROJECT_BINARY_DIR}/gmem-install)
set(gmem_install_tools gmem-probe gmem-report gmem-summary)
set(gmem_install_exes "") # every executable installed (RPATH below)
# Every install(TARGETS) adds to one set of runtime libraries (lib/, below).
set(gmem_deps "")
if(GMEM_INSTALL_BUNDLE_LIBS)
  set(gmem_deps RUNTIME_DEPENDENCY_SET gmem_runtime_libs)
endif()

# Files a program reads at run time, installed into its collection directory
# at the relative path its helper_path() call names.
#   report_test: data/ (recorded corpus output, ../spec is the spec itself)
#   guest_framework_test: guest-code/payloads/assert_fail.c (marker lines)
set(gmem_install_data_report_test DIRECTORY ${PROJECT_SOURCE_DIR}/selftests/report/data)
set(gmem_install_data_guest_framework_test
    FILES ${PROJECT_SOURCE_DIR}/guest-code/payloads/assert_fail.c SUBDIR guest-code/payloads)

get_property(gmem_programs GLOBAL PROPERTY GMEM_SELFTESTS)
set(gmem_list "")
set(gmem_labels "")
set(gmem_collections "")
foreach(p IN LISTS gmem_programs)
  get_target_property(noinstall ${p} GMEM_NOINSTALL)
  if(noinstall)
    continue()
  endif()
  get_target_property(coll ${p} GMEM_SUBJECT)
  get_target_property(tmo ${p} GMEM_TIMEOUT)
  get_target_property(labels ${p} GMEM_LABELS)
  get_target_property(args ${p} GMEM_ARGS)
  if(NOT coll MATCHES "^[a-z][a-z0-9_]*$" OR NOT p MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "${p} (subject ${coll}): kselftest's settings and runner need "
                        "[a-z][a-z0-9_]* collections and [A-Za-z_][A-Za-z0-9_]* program names")
  endif()
  install(TARGETS ${p} ${gmem_deps} RUNTIME DESTINATION ${coll})
  list(APPEND gmem_install_exes ${p})
  string(APPEND gmem_list "${coll}:${p}\n")
  string(JOIN " " labels_line ${labels})
  string(APPEND gmem_labels "${coll}:${p} ${labels_line}\n")
  if(NOT coll IN_LIST gmem_collections)
    list(APPEND gmem_collections ${coll})
    set(gmem_max_${coll} 0)
    set(gmem_settings_${coll} "")
  endif()
  if(tmo GREATER gmem_max_${coll})
    set(gmem_max_${coll} ${tmo})
  endif()
  string(APPEND gmem_settings_${coll} "timeout_${p}=${tmo}\n")
  if(args)
    string(JOIN " " args_line ${args})
    string(APPEND gmem_settings_${coll} "args_${p}=${args_line}\n")
  endif()

  # Helper programs: what the program names in add_dependencies(), beside it.
  get_target_property(deps ${p} MANUALLY_ADDED_DEPENDENCIES)
  foreach(d IN LISTS deps)
    if(NOT TARGET ${d} OR d IN_LIST gmem_install_tools OR d IN_LIST gmem_programs)
      continue()
    endif()
    get_target_property(type ${d} TYPE)
    if(type STREQUAL "EXECUTABLE" AND NOT "${coll}/${d}" IN_LIST gmem_helpers_done)
      install(TARGETS ${d} ${gmem_deps} RUNTIME DESTINATION ${coll})
      list(APPEND gmem_install_exes ${d})
      list(APPEND gmem_helpers_done "${coll}/${d}")
    endif()
  endforeach()

  # Data it reads at run time.
  if(DEFINED gmem_install_data_${p})
    cmake_parse_arguments(D "" "DIRECTORY;SUBDIR" "FILES" ${gmem_install_data_${p}})
    if(D_DIRECTORY)
      install(DIRECTORY ${D_DIRECTORY} DESTINATION ${coll}/${D_SUBDIR})
    endif()
    if(D_FILES)
      install(FILES ${D_FILES} DESTINATION ${coll}/${D_SUBDIR})
    endif()
  endif()
endforeach()

foreach(coll IN LISTS gmem_collections)
  file(CONFIGURE OUTPUT ${gmem_install_meta}/${coll}/settings CONTENT
"# kselftest settings of the collection ${coll} (cmake/GmemInstall.cmake).
# kselftest's runner reads timeout= (the longest of the collection); the
# runner of this tree also timeout_<program>= (CTest's TIMEOUT of that program)
# and args_<program>= (arguments CTest passes it).
timeout=${gmem_max_${coll}}
${gmem_settings_${coll}}" @ONLY)
  install(FILES ${gmem_install_meta}/${coll}/settings DESTINATION ${coll})
endforeach()
file(CONFIGURE OUTPUT ${gmem_install_meta}/kselftest-list.txt CONTENT "${gmem_list}" @ONLY)
file(CONFIGURE OUTPUT ${gmem_install_meta}/kselftest-labels.txt CONTENT "${gmem_labels}" @ONLY)
install(FILES ${gmem_install_meta}/kselftest-list.txt ${gmem_install_meta}/kselftest-labels.txt
        DESTINATION .)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/ci/install/run_kselftest.sh DESTINATION .)
install(FILES ${PROJECT_SOURCE_DIR}/spec/BEHAVIORS.md DESTINATION spec)
# The known failures per kernel and test: the harness of every program reads
# ../known-kernel-failures (XFAIL / XPASS).
install(FILES ${PROJECT_SOURCE_DIR}/ci/known-kernel-failures DESTINATION .)

foreach(t IN LISTS gmem_install_tools)
  if(TARGET ${t})
    install(TARGETS ${t} ${gmem_deps} RUNTIME DESTINATION bin)
    list(APPEND gmem_install_exes ${t})
  endif()
endforeach()

# The corpus version of the installed tree: the source tree at install time
# (what ci/conformance reports for a build-tree run).
file(CONFIGURE OUTPUT ${gmem_install_meta}/version.cmake CONTENT [=[
execute_process(COMMAND git -C "@PROJECT_SOURCE_DIR@" describe --always --dirty
                OUTPUT_VARIABLE v OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR v STREQUAL "")
  set(v "unknown (not a git tree)")
endif()
file(WRITE "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/VERSION" "${v}\n")
]=] @ONLY)
install(SCRIPT ${gmem_install_meta}/version.cmake)

# Shared libraries beyond glibc, so that the tree runs on a machine without
# liburing or this compiler's libstdc++ (glibc itself must be as new as the
# build machine's). Both bin/ and <collection>/ sit one level below DIR.
if(GMEM_INSTALL_BUNDLE_LIBS)
  set_target_properties(${gmem_install_exes} PROPERTIES INSTALL_RPATH "$ORIGIN/../lib")
  install(RUNTIME_DEPENDENCY_SET gmem_runtime_libs DESTINATION lib
          PRE_EXCLUDE_REGEXES "^ld-linux" "^linux-vdso" "^libc\\.so" "^libm\\.so" "^libpthread\\.so"
                              "^libdl\\.so" "^librt\\.so" "^libresolv\\.so" "^libutil\\.so")
endif()

# The tarball (TGZ): the tree at its top, as kselftest's gen_tar makes it.
set(CPACK_GENERATOR TGZ)
set(CPACK_SOURCE_GENERATOR "")
set(CPACK_PACKAGE_NAME gmem-selftests)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_FILE_NAME gmem-selftests)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR})
set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_VERBATIM_VARIABLES ON)
include(CPack)
