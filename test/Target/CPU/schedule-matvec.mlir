// Dot-product schedule of matmuls against weights stored [N, K] with at most 4 rows (decode,
// ScheduleMatvec.cpp): workgroups of 64 weight rows (scf.forall); inside, 8 steps, step j
// reading the weight rows j, j + 8, ..., j + 56 (a stride-8 slice), K tiled by one vector as a
// partial reduction (an 8 x 8 accumulator carried across K, reduced once per 8 outputs), one
// row of A at a time; an 8 x 8 transpose puts the workgroup's outputs back in order, and the
// elementwise epilogue (bias + GELU, residual add) is applied to them inside the same workgroup
// loop, before the store. 5 rows get the tiled matmul schedule.
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v3 | FileCheck %s

// CHECK-LABEL: func.func @decode_bias_gelu(
// CHECK:         scf.forall (%{{.*}}) in (3)
// CHECK:           linalg.fill {{.*}} -> tensor<1x64xf32>
// CHECK:           scf.for {{.*}} to %c8 step %c1 iter_args({{.*}}) -> (tensor<1x64xf32>)
// CHECK:             tensor.extract_slice {{.*}} [8, 256] [8, 1] : tensor<64x256xf32> to tensor<8x256xf32>
// CHECK:             scf.for {{.*}} to %c256 step %c8 iter_args({{.*}}) -> (tensor<1x8x8xf32>)
// CHECK:               arith.mulf {{.*}} : vector<1x8x8xf32>
// CHECK:               arith.addf {{.*}} : vector<1x8x8xf32>
// CHECK:             vector.multi_reduction <add>, {{.*}} [2] : vector<1x8x8xf32> to vector<1x8xf32>
// CHECK:           vector.transpose {{.*}}, [0, 2, 1] : vector<1x8x8xf32> to vector<1x8x8xf32>
// CHECK:           arith.addf {{.*}} : vector<1x64xf32>
// CHECK:           math.tanh {{.*}} : vector<1x64xf32>
// CHECK:           scf.forall.in_parallel
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     math.tanh
// CHECK:         bufferization.materialize_in_destination
func.func @decode_bias_gelu(%a: tensor<1x256xf32>, %w: tensor<192x256xf32>, %bias: tensor<192xf32>) -> tensor<1x192xf32> {
  %e = tensor.empty() : tensor<1x192xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x192xf32>) -> tensor<1x192xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<1x256xf32>, tensor<192x256xf32>) outs(%f : tensor<1x192xf32>) -> tensor<1x192xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<1x192xf32>, tensor<192xf32>) outs(%e : tensor<1x192xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %t = math.tanh %s : f32
    linalg.yield %t : f32
  } -> tensor<1x192xf32>
  return %g : tensor<1x192xf32>
}

// A residual add (specialized to linalg.add) on 4 rows: the epilogue is 4 x 64 per workgroup.
// CHECK-LABEL: func.func @batch4_residual(
// CHECK:         scf.forall (%{{.*}}) in (2)
// CHECK:           linalg.fill {{.*}} -> tensor<4x64xf32>
// CHECK:           scf.for {{.*}} to %c8 step %c1
// CHECK:             scf.for {{.*}} to %c4 step %c1
// CHECK:               vector.multi_reduction <add>, {{.*}} : vector<1x8x8xf32> to vector<1x8xf32>
// CHECK:           vector.transpose {{.*}}, [0, 2, 1] : vector<4x8x8xf32> to vector<4x8x8xf32>
// CHECK:           arith.addf {{.*}} : vector<4x64xf32>
// CHECK:           scf.forall.in_parallel
// CHECK-NOT:     linalg.add
func.func @batch4_residual(%a: tensor<4x256xf32>, %w: tensor<128x256xf32>, %r: tensor<4x128xf32>) -> tensor<4x128xf32> {
  %e = tensor.empty() : tensor<4x128xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x128xf32>) -> tensor<4x128xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<4x256xf32>, tensor<128x256xf32>) outs(%f : tensor<4x128xf32>) -> tensor<4x128xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %r : tensor<4x128xf32>, tensor<4x128xf32>) outs(%e : tensor<4x128xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<4x128xf32>
  return %g : tensor<4x128xf32>
}

// 5 rows: the tiled matmul schedule (weight panel transposed per workgroup with the AVX2
// shuffles, schedule-panel-transpose.mlir; outer products).
// CHECK-LABEL: func.func @five_rows_bias(
// CHECK:         scf.forall (%{{.*}}) in (2)
// CHECK:           vector.transfer_read {{.*}} : tensor<256x256xf32>, vector<8x8xf32>
// CHECK:           vblendps
// CHECK:           vector.outerproduct
// CHECK-NOT:     vector.multi_reduction
// CHECK:         bufferization.materialize_in_destination
func.func @five_rows_bias(%a: tensor<5x256xf32>, %w: tensor<256x256xf32>, %bias: tensor<256xf32>) -> tensor<5x256xf32> {
  %e = tensor.empty() : tensor<5x256xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<5x256xf32>) -> tensor<5x256xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<5x256xf32>, tensor<256x256xf32>) outs(%f : tensor<5x256xf32>) -> tensor<5x256xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<5x256xf32>, tensor<256xf32>) outs(%e : tensor<5x256xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<5x256xf32>
  return %g : tensor<5x256xf32>
}

// The lm head's form: no epilogue, N = 3 * 64 + 11. The divisible columns and the edge are two
// independent parts; the edge (11 columns, not a multiple of 8) takes one dot product at a
// time, K in chunks of 256 each reduced into the next.
// CHECK-LABEL: func.func @lm_head_ragged(
// CHECK:         scf.forall (%{{.*}}) in (3)
// CHECK:           vector.multi_reduction <add>, {{.*}} [2] : vector<1x8x8xf32> to vector<1x8xf32>
// CHECK:           vector.transpose {{.*}}, [0, 2, 1] : vector<1x8x8xf32> to vector<1x8x8xf32>
// CHECK:           scf.forall.in_parallel
// CHECK:         tensor.insert_slice {{.*}}[0, 0] [1, 192]
// CHECK:         scf.for {{.*}} to %c11 step %c1
// CHECK:           scf.for {{.*}} to %c768 step %c256
// CHECK:             vector.multi_reduction <add>, {{.*}} : vector<1x1x256xf32> to vector<1x1xf32>
// CHECK:         tensor.insert_slice {{.*}}[0, 192] [1, 11]
func.func @lm_head_ragged(%a: tensor<1x768xf32>, %w: tensor<203x768xf32>) -> tensor<1x203xf32> {
  %e = tensor.empty() : tensor<1x203xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x203xf32>) -> tensor<1x203xf32>
  %m = linalg.matmul_transpose_b ins(%a, %w : tensor<1x768xf32>, tensor<203x768xf32>) outs(%f : tensor<1x203xf32>) -> tensor<1x203xf32>
  return %m : tensor<1x203xf32>
}
