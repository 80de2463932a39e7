// A matmul with a bias + GELU epilogue: one workgroup loop (scf.forall) over output tiles, the
// fill and the matmul fused into each tile, register blocks vectorized with the contraction
// lowered to outer products, and the epilogue applied to the accumulators in registers. With
// AVX2 the blocks have 6 rows: ten over the tile's first 60 rows, then the peeled last block
// of 4 rows, vectorized too.
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v3 | FileCheck %s

// CHECK-LABEL: func.func @mm_bias_gelu(
// CHECK:         scf.forall (%{{.*}}) in (3)
// CHECK:           scf.for %{{.*}} = %c0 to %c60 step %c6
// CHECK:             scf.for
// CHECK:               scf.for {{.*}} -> (tensor<6x16xf32>)
// CHECK:                 vector.outerproduct {{.*}} : vector<6xf32>, vector<16xf32>
// CHECK:               math.tanh {{.*}} : vector<6x16xf32>
// CHECK:           scf.for
// CHECK:             scf.for {{.*}} -> (tensor<4x16xf32>)
// CHECK:               vector.outerproduct {{.*}} : vector<4xf32>, vector<16xf32>
// CHECK:             math.tanh {{.*}} : vector<4x16xf32>
// CHECK:           scf.forall.in_parallel
// CHECK-NOT:     linalg.
func.func @mm_bias_gelu(%a: tensor<64x96xf32>, %b: tensor<96x192xf32>, %bias: tensor<192xf32>) -> tensor<64x192xf32> {
  %e = tensor.empty() : tensor<64x192xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x192xf32>) -> tensor<64x192xf32>
  %m = linalg.matmul ins(%a, %b : tensor<64x96xf32>, tensor<96x192xf32>) outs(%f : tensor<64x192xf32>) -> tensor<64x192xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%m, %bias : tensor<64x192xf32>, tensor<192xf32>) outs(%e : tensor<64x192xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %t = math.tanh %s : f32
    linalg.yield %t : f32
  } -> tensor<64x192xf32>
  return %g : tensor<64x192xf32>
}

// A deep K (the MLP's down projection, K = 3072): the 3072 x 64 panel (768 KiB) would not stay
// in L2, so the workgroup tile narrows to 32 columns (a 384 KiB panel): 24 workgroups over N.
// CHECK-LABEL: func.func @down_projection(
// CHECK:         scf.forall (%{{.*}}) in (24)
// CHECK:           scf.for {{.*}} -> (tensor<3072x32xf32>)
// CHECK:           vector.outerproduct {{.*}} : vector<6xf32>, vector<16xf32>
// CHECK:           vector.outerproduct {{.*}} : vector<4xf32>, vector<16xf32>
// CHECK:           scf.forall.in_parallel
func.func @down_projection(%a: tensor<64x3072xf32>, %b: tensor<3072x768xf32>) -> tensor<64x768xf32> {
  %e = tensor.empty() : tensor<64x768xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64x768xf32>) -> tensor<64x768xf32>
  %m = linalg.matmul ins(%a, %b : tensor<64x3072xf32>, tensor<3072x768xf32>) outs(%f : tensor<64x768xf32>) -> tensor<64x768xf32>
  return %m : tensor<64x768xf32>
}
