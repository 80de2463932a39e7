// RUN: not %kiln_cpu_compile %s -o /dev/null 2>&1 | FileCheck %s
// CHECK: invalid-memref-result.mlir:[[@LINE+1]]:1: error: dispatch 'ret': memref dispatches write results in place, not return them
func.func @ret(%a: memref<8xf32>) -> memref<8xf32> {
  return %a : memref<8xf32>
}
