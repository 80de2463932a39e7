// RUN: not %kiln_cpu_compile %s -o /dev/null 2>&1 | FileCheck %s
// CHECK: invalid-dynamic.mlir:[[@LINE+1]]:1: error: dispatch 'dyn': argument #0 has dynamic shape 'tensor<?x8xf32>'; the CPU target compiles static shapes only
func.func @dyn(%a: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %a : tensor<?x8xf32>
}
