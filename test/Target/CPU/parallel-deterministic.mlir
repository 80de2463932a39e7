// Dispatches are optimized and compiled on parallel threads, one LLVM module each, and linked
// in dispatch order: the shared object is byte-for-byte the same for any number of threads.
// Two dispatches share one constant (one global in the LLVM-dialect module): each dispatch's
// module gets its own private copy, and the objects link. Results still match numpy.
// RUN: %kiln_cpu_compile %s --jobs 1 -o %t.1.so
// RUN: %kiln_cpu_compile %s --jobs 2 -o %t.2.so
// RUN: %kiln_cpu_compile %s --jobs 5 -o %t.5.so
// RUN: cmp %t.1.so %t.2.so
// RUN: cmp %t.1.so %t.5.so
// RUN: %kiln_cpu_compile %s --emit=llvm | FileCheck %s --check-prefix=SHARED
// RUN: %kiln_cpu_compile %s --jobs 3 --emit=llvm-ir | FileCheck %s --check-prefix=IR
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.5.so --dispatch linear --ref matmul_bias --inputs 16x64,64x48,48 --output 16x48 --tol 1e-4 | FileCheck %s --check-prefix=LINEAR
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.5.so --dispatch softmax --ref softmax_rows --inputs 5x33 --output 5x33 --tol 1e-6 | FileCheck %s --check-prefix=SOFTMAX

// One module per dispatch, in dispatch order, then the descriptor table.
// IR: ModuleID = 'kiln_cpu_linear'
// IR: define hidden void @kiln_cpu_dispatch_linear(
// IR: ModuleID = 'kiln_cpu_softmax'
// IR: ModuleID = 'kiln_cpu_scale_a'
// IR: ModuleID = 'kiln_cpu_scale_b'
// IR: ModuleID = 'kiln_cpu_table'
// IR: declare hidden void @kiln_cpu_dispatch_linear(ptr, ptr, i32, i32)
// IR: define {{.*}}ptr @kiln_cpu_executable_v1()

// SHARED: llvm.mlir.global private constant @__constant_8xf32
// SHARED-NOT: llvm.mlir.global
// SHARED: llvm.func @scale_a
// SHARED: llvm.mlir.addressof @__constant_8xf32
// SHARED: llvm.func @scale_b
// SHARED: llvm.mlir.addressof @__constant_8xf32

// LINEAR: linear: max abs error
// SOFTMAX: softmax: max abs error

func.func @linear(%a: tensor<16x64xf32>, %b: tensor<64x48xf32>, %bias: tensor<48xf32>) -> tensor<16x48xf32> {
  %e = tensor.empty() : tensor<16x48xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<16x48xf32>) -> tensor<16x48xf32>
  %m = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x48xf32>) outs(%f : tensor<16x48xf32>) -> tensor<16x48xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<16x48xf32>, tensor<48xf32>) outs(%e : tensor<16x48xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<16x48xf32>
  return %r : tensor<16x48xf32>
}

func.func @softmax(%x: tensor<5x33xf32>) -> tensor<5x33xf32> {
  %e = tensor.empty() : tensor<5x33xf32>
  %s = linalg.softmax dimension(1) ins(%x : tensor<5x33xf32>) outs(%e : tensor<5x33xf32>) -> tensor<5x33xf32>
  return %s : tensor<5x33xf32>
}

func.func @scale_a(%x: tensor<8xf32>) -> tensor<8xf32> {
  %c = arith.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]> : tensor<8xf32>
  %e = tensor.empty() : tensor<8xf32>
  %r = linalg.mul ins(%x, %c : tensor<8xf32>, tensor<8xf32>) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}

func.func @scale_b(%x: tensor<8xf32>) -> tensor<8xf32> {
  %c = arith.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]> : tensor<8xf32>
  %e = tensor.empty() : tensor<8xf32>
  %r = linalg.add ins(%x, %c : tensor<8xf32>, tensor<8xf32>) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}
