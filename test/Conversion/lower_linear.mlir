// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg --mlir-print-op-generic | FileCheck %s --check-prefix=BODY

// [B, S, K] x [N, K]^T: outer dims collapsed into M, a zero-filled matmul_transpose_b (the
// weight keeps its [N, K] layout), a bias epilogue, and the outer dims reshaped back.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[COL:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @linear_bias
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>, %[[W:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<?x?x8xf32> into tensor<?x8xf32>
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK: %[[MM:.*]] = linalg.matmul_transpose_b ins(%[[X2]], %[[W]] : tensor<?x8xf32>, tensor<4x8xf32>) outs(%[[Z]] : tensor<?x4xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[COL]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[MM]], %[[B]] :
// CHECK: arith.addf
// CHECK: %[[SHAPE:.*]] = tensor.from_elements %{{.*}}, %{{.*}}, %{{.*}} : tensor<3xindex>
// CHECK: tensor.reshape %[[Y]](%[[SHAPE]]) : (tensor<?x4xf32>, tensor<3xindex>) -> tensor<?x?x4xf32>
func.func @linear_bias(%x: tensor<?x?x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) -> tensor<?x?x4xf32> {
  %0 = kiln.linear %x, %w, %b : tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<4xf32> -> tensor<?x?x4xf32>
  return %0 : tensor<?x?x4xf32>
}

// -----

// A 2-D input needs no reshape; without a bias there is no epilogue.
// CHECK-LABEL: func.func @linear_no_bias
// CHECK-NOT: tensor.collapse_shape
// CHECK: %[[MM:.*]] = linalg.matmul_transpose_b
// CHECK-NOT: linalg.generic
// CHECK-NOT: tensor.reshape
// CHECK: return %[[MM]]
func.func @linear_no_bias(%x: tensor<?x8xf32>, %w: tensor<3x8xf32>) -> tensor<?x3xf32> {
  %0 = kiln.linear %x, %w : tensor<?x8xf32>, tensor<3x8xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

// A vector input becomes one row.
// CHECK-LABEL: func.func @linear_vector
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [1, 8] : tensor<8xf32> into tensor<1x8xf32>
// CHECK: linalg.matmul_transpose_b
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<1x3xf32> into tensor<3xf32>
func.func @linear_vector(%x: tensor<8xf32>, %w: tensor<3x8xf32>) -> tensor<3xf32> {
  %0 = kiln.linear %x, %w : tensor<8xf32>, tensor<3x8xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// kiln.linear_q: the i8 weight goes into the matmul as it is (its body converts each weight with
// sitofp, signed), then one epilogue multiplies by the row's scale and adds the bias.
// BODY: sym_name = "linear_q_bias"
// BODY: "linalg.matmul_transpose_b"
// BODY-NEXT: ^bb0(%{{.*}}: f32, %[[Q:.*]]: i8, %{{.*}}: f32):
// BODY-NEXT: "arith.sitofp"(%[[Q]]) : (i8) -> f32
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[COL:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @linear_q_bias
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>, %[[W:.*]]: tensor<4x8xi8>, %[[S:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]]
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK: %[[MM:.*]] = linalg.matmul_transpose_b ins(%[[X2]], %[[W]] : tensor<?x8xf32>, tensor<4x8xi8>) outs(%[[Z]] : tensor<?x4xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[COL]], #[[COL]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[MM]], %[[S]], %[[B]] :
// CHECK-NEXT: ^bb0(%[[V:.*]]: f32, %[[SC:.*]]: f32, %[[BI:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[V]], %[[SC]] : f32
// CHECK-NEXT: %[[R:.*]] = arith.addf %[[P]], %[[BI]] : f32
// CHECK-NEXT: linalg.yield %[[R]] : f32
// CHECK: tensor.reshape %[[Y]]
func.func @linear_q_bias(%x: tensor<?x?x8xf32>, %w: tensor<4x8xi8>, %s: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<?x?x4xf32> {
  %0 = kiln.linear_q %x, %w, %s, %b : tensor<?x?x8xf32>, tensor<4x8xi8>, tensor<4xf32>, tensor<4xf32> -> tensor<?x?x4xf32>
  return %0 : tensor<?x?x4xf32>
}

// -----

// Without a bias the epilogue is the scale alone.
// CHECK-LABEL: func.func @linear_q_no_bias
// CHECK: linalg.matmul_transpose_b ins(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<3x8xi8>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x3xf32>, tensor<3xf32>)
// CHECK-NEXT: ^bb0(%[[V:.*]]: f32, %[[SC:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[V]], %[[SC]] : f32
// CHECK-NEXT: linalg.yield %[[P]] : f32
func.func @linear_q_no_bias(%x: tensor<?x8xf32>, %w: tensor<3x8xi8>, %s: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = kiln.linear_q %x, %w, %s : tensor<?x8xf32>, tensor<3x8xi8>, tensor<3xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
