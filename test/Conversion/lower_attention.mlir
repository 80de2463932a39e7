// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s

// Grouped KV heads: the 4 query heads are (KV head r, member g) pairs, h = 2 r + g, so every map
// is a projected permutation: loops (b, r, g, i, j, d), keys read at KV head r.
// CHECK-DAG: #[[Q:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1, d2, d5)>
// (q and the output [B, S, r, g, D] share a map; so do the scores and the exps.)
// CHECK-DAG: #[[KV:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d4, d1, d5)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[MASK:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d4)>
// CHECK-DAG: #[[NORM:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d2, d3, d1)>
// CHECK-LABEL: func.func @causal_gqa_mask
// CHECK-SAME: (%[[Q_ARG:.*]]: tensor<?x?x16xf32>, %[[KV_ARG:.*]]: tensor<?x?x8xf32>, %[[M:.*]]: tensor<?x?xi32>)
// CHECK: tensor.expand_shape %[[Q_ARG]] {{\[\[}}0], [1], [2, 3, 4]] {{.*}} into tensor<?x?x2x2x4xf32>
// CHECK: tensor.expand_shape %[[KV_ARG]] {{\[\[}}0], [1], [2, 3]] {{.*}} into tensor<?x?x2x4xf32>
// Scores: a contraction over the head dimension.
// CHECK: linalg.generic {indexing_maps = [#[[Q]], #[[KV]], #[[S]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
// Scale, then padding and causal masks to the lowest finite float.
// CHECK: %[[LOWEST:.*]] = arith.constant -3.40282347E+38 : f32
// CHECK: %[[SHIFT:.*]] = arith.subi
// CHECK: linalg.generic {indexing_maps = [{{.*}}, #[[MASK]], {{.*}}]{{.*}} ins(%{{.*}}, %[[M]] :
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK: arith.cmpi eq, %{{.*}}, %c0_i32 : i32
// CHECK: arith.addi %{{.*}}, %[[SHIFT]] : index
// CHECK: arith.cmpi sgt
// CHECK: arith.ori
// CHECK: arith.select %{{.*}}, %[[LOWEST]]
// Stable softmax: row max, exp of the difference, row sum.
// CHECK: arith.maximumf
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf
// Weighted values, normalised, heads merged back.
// CHECK: linalg.generic {indexing_maps = [#[[S]], #[[KV]], #[[Q]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "parallel"]}
// CHECK: linalg.generic {indexing_maps = [{{.*}}, #[[NORM]], {{.*}}]
// CHECK: arith.divf
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3, 4]] : tensor<?x?x2x2x4xf32> into tensor<?x?x16xf32>
func.func @causal_gqa_mask(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x8xf32>, %m: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  %0 = kiln.attention %q, %kv, %kv mask(%m : tensor<?x?xi32>) {num_heads = 4, num_kv_heads = 2, head_dim = 4, causal, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x8xf32>
  return %0 : tensor<?x?x16xf32>
}

// -----

// No mask, not causal: nothing is masked.
// CHECK-LABEL: func.func @unmasked
// CHECK-NOT: arith.select
// CHECK-NOT: arith.cmpi
// CHECK: tensor.collapse_shape
func.func @unmasked(%q: tensor<2x3x8xf32>, %kv: tensor<2x5x8xf32>) -> tensor<2x3x8xf32> {
  %0 = kiln.attention %q, %kv, %kv {num_heads = 2, num_kv_heads = 2, head_dim = 4, scale = 0.5} : tensor<2x3x8xf32>, tensor<2x5x8xf32>
  return %0 : tensor<2x3x8xf32>
}

// -----

// An additive [H, S, T] bias.
// CHECK-DAG: #[[BIAS:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>
// CHECK-LABEL: func.func @bias
// CHECK-SAME: %[[B:[^:]*]]: tensor<2x?x?xf32>
// CHECK: linalg.generic {indexing_maps = [{{.*}}, #[[BIAS]], {{.*}}]{{.*}} ins(%{{.*}}, %[[B]] :
// CHECK: arith.mulf
// CHECK-NEXT: arith.addf
func.func @bias(%q: tensor<?x?x8xf32>, %kv: tensor<?x?x8xf32>, %b: tensor<2x?x?xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.attention %q, %kv, %kv bias(%b : tensor<2x?x?xf32>) {num_heads = 2, num_kv_heads = 2, head_dim = 4, scale = 1.0} : tensor<?x?x8xf32>, tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// A run-time position p over a cache's whole capacity: every generic over the key dimension
// tests j < L = p + S itself (the key bound's mark, `arith.cmpi ult` on the key loop) and
// selects, never multiplies, so that nothing it reads at j >= L reaches its result. Grouped
// heads: the key loop is loop 4 of the score space (b, r, g, i, j).
// CHECK-LABEL: func.func @position_bound
// CHECK-SAME: %[[P:[^:]*]]: tensor<1xi32>
// CHECK: %[[PE:.*]] = tensor.extract %[[P]]
// CHECK: %[[PI:.*]] = arith.index_cast %[[PE]]
// CHECK: %[[L:.*]] = arith.addi %[[PI]], %c4
// Logits: the causal test, then the key bound.
// CHECK: linalg.generic
// CHECK: arith.cmpi sgt
// CHECK: %[[J0:.*]] = linalg.index 4
// CHECK: %[[V0:.*]] = arith.cmpi ult, %[[J0]], %[[L]]
// CHECK: arith.select %[[V0]], %{{.*}}, %[[LOWEST:.*]] : f32
// Row max of the visible logits (lowest elsewhere).
// CHECK: %[[J1:.*]] = linalg.index 4
// CHECK: %[[V1:.*]] = arith.cmpi ult, %[[J1]], %[[L]]
// CHECK: %[[X1:.*]] = arith.select %[[V1]], %{{.*}}, %[[LOWEST]]
// CHECK: arith.maximumf %[[X1]]
// exp, zero beyond the bound.
// CHECK: math.exp
// CHECK: arith.cmpi ult, %{{.*}}, %[[L]]
// CHECK: arith.select
// Row sum of the visible exps.
// CHECK: arith.cmpi ult, %{{.*}}, %[[L]]
// CHECK: %[[X3:.*]] = arith.select
// CHECK: arith.addf %[[X3]]
// PV: the product selected (NaN in an unwritten value slot cannot leak).
// CHECK: %[[PR:.*]] = arith.mulf
// CHECK: %[[J4:.*]] = linalg.index 4
// CHECK: %[[V4:.*]] = arith.cmpi ult, %[[J4]], %[[L]]
// CHECK: %[[X4:.*]] = arith.select %[[V4]], %[[PR]], %cst
// CHECK: arith.addf %{{.*}}, %[[X4]]
// CHECK: arith.divf
func.func @position_bound(%q: tensor<1x4x32xf32>, %k: tensor<1x32x16xf32>, %p: tensor<1xi32>) -> tensor<1x4x32xf32> {
  %o = kiln.attention %q, %k, %k position(%p : tensor<1xi32>) {causal, head_dim = 8 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.35 : f64} : tensor<1x4x32xf32>, tensor<1x32x16xf32>
  return %o : tensor<1x4x32xf32>
}
