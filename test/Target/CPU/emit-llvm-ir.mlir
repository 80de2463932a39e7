// The shared object exports only the descriptor query; each dispatch has a hidden ABI entry
// taking (buffers, scalars, wg_begin, wg_end) (the table, in its own object, refers to it) and
// is compiled for the requested CPU.
// RUN: %kiln_cpu_compile %s --emit=llvm-ir --mcpu=x86-64-v3 | FileCheck %s

// CHECK-DAG: @kiln.name.add = private constant [4 x i8] c"add\00"
// CHECK-DAG: @kiln.sizes.add = private constant [3 x i64] [i64 128, i64 128, i64 128]
// CHECK-DAG: define {{.*}}ptr @kiln_cpu_executable_v1()
// CHECK-DAG: define hidden void @kiln_cpu_dispatch_add(ptr noalias {{.*}}, ptr noalias {{.*}}, i32 {{.*}}, i32 {{.*}})
// CHECK-DAG: "target-cpu"="x86-64-v3"
// CHECK-DAG: declare hidden void @kiln_cpu_dispatch_add(ptr, ptr, i32, i32)
func.func @add(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.add ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
