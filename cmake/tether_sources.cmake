# tether's source lists for CMake, as the same globs the Bazel BUILD files
# use, so a file added to a directory lands in both builds.
# tools/check_sources.sh compares these lists with what Bazel builds.
#
# Input: TETHER_SOURCE_DIR (the repository root). Output: the variables below,
# as absolute paths, sorted.

# Re-glob at build time in a build (not allowed in `cmake -P` script mode).
set(_tether_cd "")
if(NOT CMAKE_SCRIPT_MODE_FILE)
  set(_tether_cd CONFIGURE_DEPENDS)
endif()

# //:tether: srcs = glob(["lib/*.cc", "lib/*.h"]), hdrs = PUBLIC_HDRS
file(GLOB TETHER_LIB_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/lib/*.cc" "${TETHER_SOURCE_DIR}/lib/*.h")
file(GLOB TETHER_PUBLIC_HEADERS ${_tether_cd}
     "${TETHER_SOURCE_DIR}/include/tether/*.h")

# //testing:servers: the loopback servers of tests, benchmarks and the probe
file(GLOB TETHER_SERVERS_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/testing/*.cc"
     "${TETHER_SOURCE_DIR}/testing/*.h")

# //tests/testing: every helper library (testonly)
file(GLOB TETHER_TESTING_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/tests/testing/*.cc"
     "${TETHER_SOURCE_DIR}/tests/testing/*.h")

# //tests: one cc_test per file
file(GLOB TETHER_TEST_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/tests/*_test.cc")

# Tests that `bazel test //...` skips (tagged "manual" or "benchmark" in
# tests/BUILD.bazel, e.g. known failures waiting for a fix): built, and
# registered with ctest as DISABLED. Read from the BUILD file itself, one
# cc_test( at a time (a literal `name = "..."`, or the names of a
# `[cc_test(...) for name in [...]]`); tools/check_sources.sh checks the
# result against `bazel query`.
set(TETHER_MANUAL_TESTS "")
file(READ "${TETHER_SOURCE_DIR}/tests/BUILD.bazel" _tether_build)
# Brackets and semicolons would change how CMake splits the list: swap them.
string(REPLACE ";" "," _tether_build "${_tether_build}")
string(REPLACE "[" "<" _tether_build "${_tether_build}")
string(REPLACE "]" ">" _tether_build "${_tether_build}")
string(REPLACE "cc_test(" ";cc_test(" _tether_rules "${_tether_build}")
foreach(_rule IN LISTS _tether_rules)
  if(NOT _rule MATCHES "^cc_test\\(" OR
     NOT _rule MATCHES "tags = <[^>]*\"(manual|benchmark)\"")
    continue()
  endif()
  if(_rule MATCHES "name = \"([^\"]+)\"")
    list(APPEND TETHER_MANUAL_TESTS "${CMAKE_MATCH_1}")
  elseif(_rule MATCHES "for name in <([^>]*)>")
    string(REGEX MATCHALL "\"[^\"]+\"" _names "${CMAKE_MATCH_1}")
    foreach(_name IN LISTS _names)
      string(REPLACE "\"" "" _name "${_name}")
      list(APPEND TETHER_MANUAL_TESTS "${_name}")
    endforeach()
  endif()
endforeach()

# //tools/probe: tether-probe and its library, and their tests
file(GLOB TETHER_PROBE_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/tools/probe/*.cc"
     "${TETHER_SOURCE_DIR}/tools/probe/*.h")
file(GLOB TETHER_PROBE_TEST_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/tools/probe/*_test.cc")
list(REMOVE_ITEM TETHER_PROBE_SOURCES ${TETHER_PROBE_TEST_SOURCES})
set(TETHER_PROBE_MAIN "${TETHER_SOURCE_DIR}/tools/probe/main.cc")
list(REMOVE_ITEM TETHER_PROBE_SOURCES "${TETHER_PROBE_MAIN}")

# //tcl: the Tcl package (`package require tether`) and its test
file(GLOB TETHER_TCL_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/tcl/*.cc" "${TETHER_SOURCE_DIR}/tcl/*.h")
file(GLOB TETHER_TCL_TEST_SOURCES ${_tether_cd}
     "${TETHER_SOURCE_DIR}/tcl/*_test.cc")
list(REMOVE_ITEM TETHER_TCL_SOURCES ${TETHER_TCL_TEST_SOURCES})

foreach(list TETHER_LIB_SOURCES TETHER_PUBLIC_HEADERS TETHER_SERVERS_SOURCES
        TETHER_TESTING_SOURCES
        TETHER_TEST_SOURCES TETHER_PROBE_SOURCES TETHER_PROBE_TEST_SOURCES
        TETHER_TCL_SOURCES TETHER_TCL_TEST_SOURCES)
  list(SORT ${list})
endforeach()
