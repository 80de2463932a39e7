// RUN: not %kiln_cpu_compile %s -o /dev/null 2>&1 | FileCheck %s
// CHECK: invalid-external.mlir:[[@LINE+1]]:1: error: dispatch 'ext' has no body
func.func private @ext(%a: tensor<8xf32>) -> tensor<8xf32>
