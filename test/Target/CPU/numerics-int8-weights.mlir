// Linear layers whose weights are stored as int8 with one f32 scale per output row (kilnc
// --weight-dtype=int8, kiln.linear_q): `matmul_transpose_b` of f32 activations and an i8 [N, K]
// weight (each weight converted with sitofp as it is read) into f32, then the epilogue
// `y * scale[n]` (+ bias, GELU, residual) fused into the same dispatch. Decode (M <= 4) keeps the
// dot-product schedule and loads i8 rows, widened in registers; more rows (prefill) widen the
// weights while packing each workgroup's f32 panel, so the register kernel is the f32 one.
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --emit=bufferized -o - | FileCheck %s
// RUN: %kiln_cpu_compile %s --mcpu=x86-64-v3 --print-dispatches -o %t.v3.so 2>&1 | FileCheck %s --check-prefix=WG
//
// CHECK-LABEL: func.func @up_bias_gelu(
// CHECK: scf.forall
// CHECK: iter_args(%{{.*}}) -> (vector<1x8x8xf32>)
// CHECK: vector.transfer_read %{{.*}} : memref<8x8xi8, strided<[6144, 1], offset: ?>>, vector<8x8xi8>
// CHECK: arith.sitofp %{{.*}} : vector<1x8x8xi8> to vector<1x8x8xf32>
// CHECK-LABEL: func.func @residual3(
// CHECK: vector.transfer_read %{{.*}} : memref<8x8xi8, strided<[2048, 1], offset: ?>>, vector<8x8xi8>
// CHECK: arith.sitofp %{{.*}} : vector<1x8x8xi8> to vector<1x8x8xf32>
// CHECK-LABEL: func.func @qkv_prefill(
// CHECK: scf.forall
// The panel: 8 x 8 i8 blocks of the [N, K] weights, converted, transposed into the f32 panel
// (with the AVX2 shuffles, schedule-panel-transpose.mlir).
// CHECK: vector.transfer_read %{{.*}} : memref<2304x768xi8>, vector<8x8xi8>
// CHECK-NEXT: arith.sitofp %{{.*}} : vector<8x8xi8> to vector<8x8xf32>
// CHECK: vblendps
// CHECK: vector.transfer_write %{{.*}} : vector<8x8xf32>, memref<8x16xf32, strided<[16, 1], offset: ?>>
// CHECK: vector.outerproduct {{.*}} : vector<4xf32>, vector<16xf32>
//
// The same workgroups as f32 weights with the same epilogues. A ragged N with an epilogue is
// two independent segments: the divisible columns' workgroups (3 of 64) and one for the edge,
// whose epilogue (loads, vector math, store) runs inside its own workgroup.
// WG: dispatch up_bias_gelu: buffers 5, workgroups 48x1x1
// WG: dispatch residual3: buffers 5, workgroups 4x1x1
// WG: dispatch lm_head: buffers 4, workgroups 4x1x1
// WG: dispatch qkv_prefill: buffers 5, workgroups 36x1x1
// WG: dispatch ragged_prefill: buffers 4, workgroups 4x1x1
// WG: dispatch deep_k: buffers 4, workgroups 3x1x1
//
// Numerics against numpy (float64) with the weights quantized by numpy (run_dispatch.py --int8
// W:S: q and s from numpy, the reference reads q * s[:, None]): a weight read as unsigned, a
// scale applied to the wrong row or not at all, fails by orders of magnitude.
// RUN: %kiln_cpu_compile %s -o %t.so
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch up_bias_gelu --ref matmul_tb_bias_gelu --inputs 1x768,3072x768,3072,3072 --int8 1:2 --output 1x3072 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch residual3 --ref matmul_tb_add --inputs 3x256,200x256,200,3x200 --int8 1:2 --output 3x200 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch lm_head --ref matmul_tb --inputs 1x768,203x768,203 --int8 1:2 --output 1x203 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch qkv_prefill --ref matmul_tb_bias --inputs 64x768,2304x768,2304,2304 --int8 1:2 --output 64x2304 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch ragged_prefill --ref matmul_tb --inputs 64x96,200x96,200 --int8 1:2 --output 64x200 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.so --dispatch deep_k --ref matmul_tb --inputs 8x3072,96x3072,96 --int8 1:2 --output 8x96 --tol 2e-4 | FileCheck %s --check-prefix=NUM
// The AVX2 code too (on an AVX-512 host %t.so differs).
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.v3.so --dispatch up_bias_gelu --ref matmul_tb_bias_gelu --inputs 1x768,3072x768,3072,3072 --int8 1:2 --output 1x3072 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.v3.so --dispatch residual3 --ref matmul_tb_add --inputs 3x256,200x256,200,3x200 --int8 1:2 --output 3x200 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// RUN: %run_dispatch --runner %kiln_hal_run --blob %t.v3.so --dispatch qkv_prefill --ref matmul_tb_bias --inputs 64x768,2304x768,2304,2304 --int8 1:2 --output 64x2304 --tol 1e-4 | FileCheck %s --check-prefix=NUM
// NUM: max abs error

func.func @up_bias_gelu(%a: tensor<1x768xf32>, %w: tensor<3072x768xi8>, %scale: tensor<3072xf32>, %bias: tensor<3072xf32>) -> tensor<1x3072xf32> {
  %e = tensor.empty() : tensor<1x3072xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3072xf32>) -> tensor<1x3072xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<1x768xf32>, tensor<3072x768xi8>) outs(%f : tensor<1x3072xf32>) -> tensor<1x3072xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %scale, %bias : tensor<1x3072xf32>, tensor<3072xf32>, tensor<3072xf32>) outs(%e : tensor<1x3072xf32>) {
  ^bb0(%x: f32, %sc: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %sc : f32
    %s = arith.addf %p, %y : f32
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

func.func @residual3(%a: tensor<3x256xf32>, %w: tensor<200x256xi8>, %scale: tensor<200xf32>, %res: tensor<3x200xf32>) -> tensor<3x200xf32> {
  %e = tensor.empty() : tensor<3x200xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x200xf32>) -> tensor<3x200xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<3x256xf32>, tensor<200x256xi8>) outs(%f : tensor<3x200xf32>) -> tensor<3x200xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %scale, %res : tensor<3x200xf32>, tensor<200xf32>, tensor<3x200xf32>) outs(%e : tensor<3x200xf32>) {
  ^bb0(%x: f32, %sc: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %sc : f32
    %s = arith.addf %p, %y : f32
    linalg.yield %s : f32
  } -> tensor<3x200xf32>
  return %g : tensor<3x200xf32>
}

func.func @lm_head(%a: tensor<1x768xf32>, %w: tensor<203x768xi8>, %scale: tensor<203xf32>) -> tensor<1x203xf32> {
  %e = tensor.empty() : tensor<1x203xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x203xf32>) -> tensor<1x203xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<1x768xf32>, tensor<203x768xi8>) outs(%f : tensor<1x203xf32>) -> tensor<1x203xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %scale : tensor<1x203xf32>, tensor<203xf32>) outs(%e : tensor<1x203xf32>) {
  ^bb0(%x: f32, %sc: f32, %o: f32):
    %p = arith.mulf %x, %sc : f32
    linalg.yield %p : f32
  } -> tensor<1x203xf32>
  return %g : tensor<1x203xf32>
}

func.func @qkv_prefill(%a: tensor<64x768xf32>, %w: tensor<2304x768xi8>, %scale: tensor<2304xf32>, %bias: tensor<2304xf32>) -> tensor<64x2304xf32> {
  %e = tensor.empty() : tensor<64x2304xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x2304xf32>) -> tensor<64x2304xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x768xf32>, tensor<2304x768xi8>) outs(%f : tensor<64x2304xf32>) -> tensor<64x2304xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %scale, %bias : tensor<64x2304xf32>, tensor<2304xf32>, tensor<2304xf32>) outs(%e : tensor<64x2304xf32>) {
  ^bb0(%x: f32, %sc: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %sc : f32
    %s = arith.addf %p, %y : f32
    linalg.yield %s : f32
  } -> tensor<64x2304xf32>
  return %g : tensor<64x2304xf32>
}

func.func @ragged_prefill(%a: tensor<64x96xf32>, %w: tensor<200x96xi8>, %scale: tensor<200xf32>) -> tensor<64x200xf32> {
  %e = tensor.empty() : tensor<64x200xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x200xf32>) -> tensor<64x200xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<64x96xf32>, tensor<200x96xi8>) outs(%f : tensor<64x200xf32>) -> tensor<64x200xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %scale : tensor<64x200xf32>, tensor<200xf32>) outs(%e : tensor<64x200xf32>) {
  ^bb0(%x: f32, %sc: f32, %o: f32):
    %p = arith.mulf %x, %sc : f32
    linalg.yield %p : f32
  } -> tensor<64x200xf32>
  return %g : tensor<64x200xf32>
}

func.func @deep_k(%a: tensor<8x3072xf32>, %w: tensor<96x3072xi8>, %scale: tensor<96xf32>) -> tensor<8x96xf32> {
  %e = tensor.empty() : tensor<8x96xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<8x96xf32>) -> tensor<8x96xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<8x3072xf32>, tensor<96x3072xi8>) outs(%f : tensor<8x96xf32>) -> tensor<8x96xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %scale : tensor<8x96xf32>, tensor<96xf32>) outs(%e : tensor<8x96xf32>) {
  ^bb0(%x: f32, %sc: f32, %o: f32):
    %p = arith.mulf %x, %sc : f32
    linalg.yield %p : f32
  } -> tensor<8x96xf32>
  return %g : tensor<8x96xf32>
}
