// With AVX-512 the register block is 8 x 32 (16 zmm accumulators) and the workgroup tile
// 64 x 128; the whole pipeline down to the shared object works for that target.
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v4 --mattr=+avx512f | FileCheck %s
// RUN: %kiln_cpu_compile %s --emit=llvm-ir --mcpu=x86-64-v4 --mattr=+avx512f | FileCheck %s --check-prefix=IR
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v4 --mattr=+avx512f -o %t.so
// RUN: llvm-objdump -d %t.so | FileCheck %s --check-prefix=ASM

// ASM: vfmadd{{.*}}zmm

// CHECK-LABEL: func.func @mm(
// CHECK:         scf.forall (%{{.*}}) in (6)
// CHECK:           vector.outerproduct {{.*}} : vector<8xf32>, vector<32xf32>

// IR: call <32 x float> @llvm.fmuladd.v32f32
// IR: "prefer-vector-width"="512"
func.func @mm(%a: tensor<64x96xf32>, %b: tensor<96x768xf32>) -> tensor<64x768xf32> {
  %e = tensor.empty() : tensor<64x768xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x768xf32>) -> tensor<64x768xf32>
  %m = linalg.matmul ins(%a, %b : tensor<64x96xf32>, tensor<96x768xf32>) outs(%f : tensor<64x768xf32>) -> tensor<64x768xf32>
  return %m : tensor<64x768xf32>
}
