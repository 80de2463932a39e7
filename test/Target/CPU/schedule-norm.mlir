// Norm dispatches get one workgroup per row (scf.forall over the leading dimensions) with every
// op of the chain fused into it (the row statistics' fills too), each op running along the row
// in chunks of 4 vector registers (32 floats with AVX2), vectorized; reductions accumulate chunk
// by chunk. A plain elementwise dispatch (no row reduction) is not a norm.
// RUN: %kiln_cpu_compile %s --emit=scheduled --mcpu=x86-64-v3 | FileCheck %s

// CHECK-LABEL: func.func @layer_norm(
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (2, 4)
// CHECK:           linalg.fill {{.*}} -> tensor<1x1xf32>
// CHECK:           scf.for %{{.*}} = %c0 to %c64 step %c32 iter_args(%{{.*}}) -> (tensor<1x1xf32>)
// CHECK:             vector.multi_reduction <add>, {{.*}} : vector<1x1x32xf32> to vector<1x1xf32>
// CHECK:           math.sqrt {{.*}} : vector<1x1x32xf32>
// CHECK:           scf.forall.in_parallel
// CHECK-NOT:     linalg.generic
// CHECK:         bufferization.materialize_in_destination

// CHECK-LABEL: func.func @not_a_norm(
// CHECK-NOT:     scf.forall
// CHECK:         linalg.generic

#stat = affine_map<(d0, d1, d2) -> (d0, d1)>
#row = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#col = affine_map<(d0, d1, d2) -> (d2)>

  func.func @layer_norm(%arg0: tensor<2x4x64xf32>, %arg1: tensor<64xf32>, %arg2: tensor<64xf32>) -> tensor<2x4x64xf32> {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x4xf32>
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<2x4xf32>) -> tensor<2x4xf32>
    %2 = linalg.generic {indexing_maps = [#row, #stat], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0 : tensor<2x4x64xf32>) outs(%1 : tensor<2x4xf32>) {
    ^bb0(%in: f32, %out: f32):
      %7 = arith.addf %in, %out : f32
      linalg.yield %7 : f32
    } -> tensor<2x4xf32>
    %3 = tensor.empty() : tensor<2x4x64xf32>
    %cst_0 = arith.constant 6.400000e+01 : f32
    %4 = linalg.generic {indexing_maps = [#row, #stat, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %2 : tensor<2x4x64xf32>, tensor<2x4xf32>) outs(%3 : tensor<2x4x64xf32>) {
    ^bb0(%in: f32, %in_3: f32, %out: f32):
      %7 = arith.divf %in_3, %cst_0 : f32
      %8 = arith.subf %in, %7 : f32
      linalg.yield %8 : f32
    } -> tensor<2x4x64xf32>
    %5 = linalg.generic {indexing_maps = [#row, #stat], iterator_types = ["parallel", "parallel", "reduction"]} ins(%4 : tensor<2x4x64xf32>) outs(%1 : tensor<2x4xf32>) {
    ^bb0(%in: f32, %out: f32):
      %7 = arith.mulf %in, %in : f32
      %8 = arith.addf %7, %out : f32
      linalg.yield %8 : f32
    } -> tensor<2x4xf32>
    %cst_1 = arith.constant 9.99999974E-6 : f32
    %cst_2 = arith.constant 1.000000e+00 : f32
    %6 = linalg.generic {indexing_maps = [#row, #stat, #col, #col, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%4, %5, %arg1, %arg2 : tensor<2x4x64xf32>, tensor<2x4xf32>, tensor<64xf32>, tensor<64xf32>) outs(%3 : tensor<2x4x64xf32>) {
    ^bb0(%in: f32, %in_3: f32, %in_4: f32, %in_5: f32, %out: f32):
      %7 = arith.divf %in_3, %cst_0 : f32
      %8 = arith.addf %7, %cst_1 : f32
      %9 = math.sqrt %8 : f32
      %10 = arith.divf %cst_2, %9 : f32
      %11 = arith.mulf %in, %10 : f32
      %12 = arith.mulf %11, %in_4 : f32
      %13 = arith.addf %12, %in_5 : f32
      linalg.yield %13 : f32
    } -> tensor<2x4x64xf32>
    return %6 : tensor<2x4x64xf32>
  }

func.func @not_a_norm(%x: tensor<2x4x64xf32>, %b: tensor<64xf32>) -> tensor<2x4x64xf32> {
  %e = tensor.empty() : tensor<2x4x64xf32>
  %y = linalg.generic {indexing_maps = [#row, #col, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %b : tensor<2x4x64xf32>, tensor<64xf32>) outs(%e : tensor<2x4x64xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<2x4x64xf32>
  return %y : tensor<2x4x64xf32>
}
