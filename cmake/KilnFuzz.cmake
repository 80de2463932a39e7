# libFuzzer targets, built with clang-19 whatever compiler builds the rest of Kiln.
#
#   kiln_add_fuzzer(NAME frontend-fuzzer
#                   SOURCES a.cpp b.cpp            # the fuzz entry point and the code under test
#                   INCLUDES dir...                # include directories
#                   CORPUS dir                     # seed corpus (checked in, never written to)
#                   SECONDS 60)                    # how long the test suite runs it
#
# Each fuzzer is compiled with -fsanitize=fuzzer,address,undefined (UB aborts) into
# build/fuzz/NAME and registered as the ctest test fuzz-NAME, which runs it for SECONDS (override
# with KILN_FUZZ_SECONDS=N for a long run) and fails on any crash, leak, timeout or sanitizer report.
include_guard(GLOBAL)

find_program(KILN_FUZZ_CXX NAMES clang++-19 clang++ PATHS /usr/lib/llvm-19/bin NO_DEFAULT_PATH)
if(NOT KILN_FUZZ_CXX)
  find_program(KILN_FUZZ_CXX NAMES clang++-19)
endif()

function(kiln_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;CORPUS;SECONDS" "SOURCES;INCLUDES;DEFINES;FLAGS" ${ARGN})
  if(NOT KILN_FUZZ_CXX)
    message(WARNING "clang++-19 not found: fuzzer ${F_NAME} is not built (run scripts/setup.sh)")
    return()
  endif()
  set(out ${CMAKE_BINARY_DIR}/fuzz/${F_NAME})
  set(args -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
  foreach(i ${F_INCLUDES})
    list(APPEND args -I${i})
  endforeach()
  foreach(d ${F_DEFINES})
    list(APPEND args -D${d})
  endforeach()
  set(srcs)
  foreach(s ${F_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND srcs ${abs})
  endforeach()
  # Ninja reads the depfile as written (CMP0116 stays OLD for mlir_tablegen): its target must
  # be the output's path as the build names it, relative to the build directory, or Ninja
  # finds the fuzzer out of date on every build.
  file(RELATIVE_PATH rel ${CMAKE_BINARY_DIR} ${out})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/fuzz
    COMMAND ${KILN_FUZZ_CXX} ${args} -MD -MF ${out}.d -MT ${rel} ${srcs} -o ${out} ${F_FLAGS}
    DEPENDS ${srcs}
    DEPFILE ${out}.d
    COMMENT "Building fuzzer ${F_NAME} with clang-19"
    VERBATIM)
  add_custom_target(${F_NAME} ALL DEPENDS ${out})
  if(NOT F_SECONDS)
    set(F_SECONDS 20)
  endif()
  add_test(NAME fuzz-${F_NAME}
    COMMAND ${CMAKE_SOURCE_DIR}/test/fuzz/run-fuzzer.sh ${out} ${F_CORPUS} ${F_SECONDS})
endfunction()
