# Finds Debian's MLIR 19 and sets up TableGen and the add_mlir_* helpers.
#
# Every Kiln library and tool links MLIR once, through Debian's single libMLIR.so (target `MLIR`):
# fast links and small binaries. Never add static libMLIR*.a libraries next to it.
if(NOT MLIR_DIR)
  set(MLIR_DIR /usr/lib/llvm-19/lib/cmake/mlir)
endif()
find_package(MLIR 19.1 REQUIRED CONFIG)
message(STATUS "Using MLIRConfig.cmake in: ${MLIR_DIR}")
message(STATUS "Using LLVMConfig.cmake in: ${LLVM_DIR}")

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
set(LLVM_RUNTIME_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/bin)
set(LLVM_LIBRARY_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/lib)
set(MLIR_BINARY_DIR ${CMAKE_BINARY_DIR})
include(TableGen)
include(AddLLVM)
include(AddMLIR)
include(HandleLLVMOptions)

include_directories(SYSTEM ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
link_directories(${LLVM_BUILD_LIBRARY_DIR})
add_definitions(${LLVM_DEFINITIONS})

if(NOT LLVM_EXTERNAL_LIT)
  set(LLVM_EXTERNAL_LIT /usr/lib/llvm-19/build/utils/lit/lit.py)
endif()
set(KILN_LIT ${LLVM_EXTERNAL_LIT})
