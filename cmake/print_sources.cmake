# cmake -DTETHER_SOURCE_DIR=<root> -P cmake/print_sources.cmake
# Prints "GROUP path" lines (paths relative to the root) for
# tools/check_sources.sh, without configuring a build.
include("${CMAKE_CURRENT_LIST_DIR}/tether_sources.cmake")

function(print_group group)
  foreach(path ${ARGN})
    file(RELATIVE_PATH rel "${TETHER_SOURCE_DIR}" "${path}")
    message(STATUS "${group} ${rel}")
  endforeach()
endfunction()

print_group(library ${TETHER_LIB_SOURCES} ${TETHER_PUBLIC_HEADERS})
print_group(servers ${TETHER_SERVERS_SOURCES})
print_group(testing ${TETHER_TESTING_SOURCES})
print_group(tests ${TETHER_TEST_SOURCES})
foreach(name ${TETHER_MANUAL_TESTS})
  message(STATUS "manual tests/${name}")
endforeach()
print_group(probe ${TETHER_PROBE_SOURCES} ${TETHER_PROBE_MAIN})
print_group(probe_tests ${TETHER_PROBE_TEST_SOURCES})
print_group(tcl ${TETHER_TCL_SOURCES})
print_group(tcl_tests ${TETHER_TCL_TEST_SOURCES})
