// End to end: compile to a shared object, load it through the HAL's CPU driver (2 threads),
// compare each dispatch with numpy (float64, written from the definitions) on random inputs.
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch mm_bias_gelu --ref matmul_bias_gelu --inputs 64x768,768x2304,2304 --output 64x2304 --tol 1e-4 | FileCheck %s --check-prefix=GELU
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch decode --ref matmul --inputs 1x768,768x768 --output 1x768 --tol 1e-4 --threads 1 | FileCheck %s --check-prefix=DECODE
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch ragged --ref matmul --inputs 7x96,96x100 --output 7x100 --tol 1e-4 | FileCheck %s --check-prefix=RAGGED
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch lm_head --ref matmul_tb --inputs 3x64,50x64 --output 3x50 --tol 1e-4 | FileCheck %s --check-prefix=TB
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch linear --ref matmul_bias --inputs 16x64,64x48,48 --output 16x48 --tol 1e-4 | FileCheck %s --check-prefix=LINEAR
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch ragged_wg --ref matmul --inputs 64x96,96x200 --output 64x200 --tol 1e-4 | FileCheck %s --check-prefix=RAGGEDWG
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch ragged_wg_tb --ref matmul_tb --inputs 8x96,200x96 --output 8x200 --tol 1e-4 | FileCheck %s --check-prefix=RAGGEDWGTB
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch decode_lm_head --ref matmul_tb --inputs 1x512,300x512 --output 1x300 --tol 1e-4 | FileCheck %s --check-prefix=DECODETB
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch softmax --ref softmax_rows --inputs 5x33 --output 5x33 --tol 1e-6 | FileCheck %s --check-prefix=SOFTMAX
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch deep_k --ref matmul --inputs 8x3072,3072x96 --output 8x96 --tol 2e-4 | FileCheck %s --check-prefix=DEEPK

// GELU: mm_bias_gelu: max abs error
// DEEPK: deep_k: max abs error
// DECODE: decode: max abs error
// RAGGED: ragged: max abs error
// TB: lm_head: max abs error
// LINEAR: linear: max abs error
// DECODETB: decode_lm_head: max abs error
// RAGGEDWG: ragged_wg: max abs error
// RAGGEDWGTB: ragged_wg_tb: max abs error
// SOFTMAX: softmax: max abs error

func.func @mm_bias_gelu(%a: tensor<64x768xf32>, %b: tensor<768x2304xf32>, %bias: tensor<2304xf32>) -> tensor<64x2304xf32> {
  %e = tensor.empty() : tensor<64x2304xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x2304xf32>) -> tensor<64x2304xf32>
  %m = linalg.matmul ins(%a, %b : tensor<64x768xf32>, tensor<768x2304xf32>) outs(%f : tensor<64x2304xf32>) -> tensor<64x2304xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<64x2304xf32>, tensor<2304xf32>) outs(%e : tensor<64x2304xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %half = arith.constant 0.5 : f32
    %c = arith.constant 0.7978845608028654 : f32
    %k = arith.constant 0.044715 : f32
    %one = arith.constant 1.0 : f32
    %s2 = arith.mulf %s, %s : f32
    %s3 = arith.mulf %s2, %s : f32
    %t1 = arith.mulf %k, %s3 : f32
    %t2 = arith.addf %s, %t1 : f32
    %t3 = arith.mulf %c, %t2 : f32
    %th = math.tanh %t3 : f32
    %t4 = arith.addf %one, %th : f32
    %t5 = arith.mulf %s, %t4 : f32
    %r = arith.mulf %half, %t5 : f32
    linalg.yield %r : f32
  } -> tensor<64x2304xf32>
  return %g : tensor<64x2304xf32>
}

func.func @decode(%a: tensor<1x768xf32>, %b: tensor<768x768xf32>) -> tensor<1x768xf32> {
  %e = tensor.empty() : tensor<1x768xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x768xf32>) -> tensor<1x768xf32>
  %m = linalg.matmul ins(%a, %b : tensor<1x768xf32>, tensor<768x768xf32>) outs(%f : tensor<1x768xf32>) -> tensor<1x768xf32>
  return %m : tensor<1x768xf32>
}

func.func @ragged(%a: tensor<7x96xf32>, %b: tensor<96x100xf32>) -> tensor<7x100xf32> {
  %e = tensor.empty() : tensor<7x100xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<7x100xf32>) -> tensor<7x100xf32>
  %m = linalg.matmul ins(%a, %b : tensor<7x96xf32>, tensor<96x100xf32>) outs(%f : tensor<7x100xf32>) -> tensor<7x100xf32>
  return %m : tensor<7x100xf32>
}

func.func @lm_head(%a: tensor<3x64xf32>, %b: tensor<50x64xf32>) -> tensor<3x50xf32> {
  %e = tensor.empty() : tensor<3x50xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x50xf32>) -> tensor<3x50xf32>
  %m = linalg.matmul_transpose_b ins(%a, %b : tensor<3x64xf32>, tensor<50x64xf32>) outs(%f : tensor<3x50xf32>) -> tensor<3x50xf32>
  return %m : tensor<3x50xf32>
}

func.func @softmax(%x: tensor<5x33xf32>) -> tensor<5x33xf32> {
  %e = tensor.empty() : tensor<5x33xf32>
  %s = linalg.softmax dimension(1) ins(%x : tensor<5x33xf32>) outs(%e : tensor<5x33xf32>) -> tensor<5x33xf32>
  return %s : tensor<5x33xf32>
}

// `linear` as the kiln lowering writes it: a contraction generic accumulating onto the
// broadcast bias.
func.func @linear(%x: tensor<16x64xf32>, %w: tensor<64x48xf32>, %bias: tensor<48xf32>) -> tensor<16x48xf32> {
  %e = tensor.empty() : tensor<16x48xf32>
  %init = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%bias : tensor<48xf32>) outs(%e : tensor<16x48xf32>) {
  ^bb0(%b: f32, %o: f32):
    linalg.yield %b : f32
  } -> tensor<16x48xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<16x64xf32>, tensor<64x48xf32>) outs(%init : tensor<16x48xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x48xf32>
  return %y : tensor<16x48xf32>
}

// N = 200 is not a multiple of the 64-column workgroup tile: four workgroups, the last one
// partial, split across threads.
func.func @ragged_wg(%a: tensor<64x96xf32>, %b: tensor<96x200xf32>) -> tensor<64x200xf32> {
  %e = tensor.empty() : tensor<64x200xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x200xf32>) -> tensor<64x200xf32>
  %m = linalg.matmul ins(%a, %b : tensor<64x96xf32>, tensor<96x200xf32>) outs(%f : tensor<64x200xf32>) -> tensor<64x200xf32>
  return %m : tensor<64x200xf32>
}

func.func @ragged_wg_tb(%a: tensor<8x96xf32>, %b: tensor<200x96xf32>) -> tensor<8x200xf32> {
  %e = tensor.empty() : tensor<8x200xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<8x200xf32>) -> tensor<8x200xf32>
  %m = linalg.matmul_transpose_b ins(%a, %b : tensor<8x96xf32>, tensor<200x96xf32>) outs(%f : tensor<8x200xf32>) -> tensor<8x200xf32>
  return %m : tensor<8x200xf32>
}

// Decode against weights stored [N, K]: dot products along K in 256-wide chunks; N = 300 is
// not a multiple of the 64-row workgroup.
func.func @decode_lm_head(%a: tensor<1x512xf32>, %b: tensor<300x512xf32>) -> tensor<1x300xf32> {
  %e = tensor.empty() : tensor<1x300xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x300xf32>) -> tensor<1x300xf32>
  %m = linalg.matmul_transpose_b ins(%a, %b : tensor<1x512xf32>, tensor<300x512xf32>) outs(%f : tensor<1x300xf32>) -> tensor<1x300xf32>
  return %m : tensor<1x300xf32>
}

// K = 3072: the workgroup's panel narrows to 32 columns (3 workgroups over N = 96).
func.func @deep_k(%a: tensor<8x3072xf32>, %b: tensor<3072x96xf32>) -> tensor<8x96xf32> {
  %e = tensor.empty() : tensor<8x96xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<8x96xf32>) -> tensor<8x96xf32>
  %m = linalg.matmul ins(%a, %b : tensor<8x3072xf32>, tensor<3072x96xf32>) outs(%f : tensor<8x96xf32>) -> tensor<8x96xf32>
  return %m : tensor<8x96xf32>
}
