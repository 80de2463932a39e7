// Dot-product (matvec) dispatches with elementwise epilogues, end to end: compiled to a shared
// object, run through the HAL's CPU driver and compared with numpy (float64, from the
// definitions) on random inputs. Covers one row (decode), three rows (batch-3 decode) and a
// ragged N (the last workgroup's epilogue runs on a partial tile).
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch up_bias_gelu --ref matmul_tb_bias_gelu --inputs 1x768,3072x768,3072 --output 1x3072 --tol 1e-4 | FileCheck %s --check-prefix=GELU
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch up_bias_gelu --ref matmul_tb_bias_gelu --inputs 1x768,3072x768,3072 --output 1x3072 --tol 1e-4 --threads 1 | FileCheck %s --check-prefix=GELU
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch residual3 --ref matmul_tb_add --inputs 3x256,200x256,3x200 --output 3x200 --tol 1e-4 | FileCheck %s --check-prefix=RES
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch lm_head --ref matmul_tb --inputs 1x768,203x768 --output 1x203 --tol 1e-4 | FileCheck %s --check-prefix=HEAD
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch odd_k --ref matmul_tb --inputs 2x100,64x100 --output 2x64 --tol 1e-4 | FileCheck %s --check-prefix=ODDK

// GELU: up_bias_gelu: max abs error
// RES: residual3: max abs error
// HEAD: lm_head: max abs error
// ODDK: odd_k: max abs error

func.func @up_bias_gelu(%a: tensor<1x768xf32>, %w: tensor<3072x768xf32>, %bias: tensor<3072xf32>) -> tensor<1x3072xf32> {
  %e = tensor.empty() : tensor<1x3072xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3072xf32>) -> tensor<1x3072xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<1x768xf32>, tensor<3072x768xf32>) outs(%f : tensor<1x3072xf32>) -> tensor<1x3072xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<1x3072xf32>, tensor<3072xf32>) outs(%e : tensor<1x3072xf32>) {
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
  } -> tensor<1x3072xf32>
  return %g : tensor<1x3072xf32>
}

func.func @residual3(%a: tensor<3x256xf32>, %w: tensor<200x256xf32>, %res: tensor<3x200xf32>) -> tensor<3x200xf32> {
  %e = tensor.empty() : tensor<3x200xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x200xf32>) -> tensor<3x200xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<3x256xf32>, tensor<200x256xf32>) outs(%f : tensor<3x200xf32>) -> tensor<3x200xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %res : tensor<3x200xf32>, tensor<3x200xf32>) outs(%e : tensor<3x200xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<3x200xf32>
  return %g : tensor<3x200xf32>
}

func.func @lm_head(%a: tensor<1x768xf32>, %w: tensor<203x768xf32>) -> tensor<1x203xf32> {
  %e = tensor.empty() : tensor<1x203xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x203xf32>) -> tensor<1x203xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<1x768xf32>, tensor<203x768xf32>) outs(%f : tensor<1x203xf32>) -> tensor<1x203xf32>
  return %m : tensor<1x203xf32>
}

func.func @odd_k(%a: tensor<2x100xf32>, %w: tensor<64x100xf32>) -> tensor<2x64xf32> {
  %e = tensor.empty() : tensor<2x64xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x64xf32>) -> tensor<2x64xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<2x100xf32>, tensor<64x100xf32>) outs(%f : tensor<2x64xf32>) -> tensor<2x64xf32>
  return %m : tensor<2x64xf32>
}
