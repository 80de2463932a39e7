// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s

// A gather: each output element extracts table[id, d].
// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x?xi32>, %[[T:.*]]: tensor<32x8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[IDS]] : tensor<?x?xi32>) outs(%{{.*}} : tensor<?x?x8xf32>)
// CHECK: ^bb0(%[[ID:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[D:.*]] = linalg.index 2
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: tensor.extract %[[T]][%[[ROW]], %[[D]]]
func.func @embedding(%ids: tensor<?x?xi32>, %t: tensor<32x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.embedding %ids, %t : tensor<?x?xi32>, tensor<32x8xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// An int8 table (a tied head's weight stored as int8): each value is converted and multiplied by
// its row's scale.
// CHECK-LABEL: func.func @embedding_q
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x?xi32>, %[[T:.*]]: tensor<32x8xi8>, %[[S:.*]]: tensor<32xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[IDS]] : tensor<?x?xi32>) outs(%{{.*}} : tensor<?x?x8xf32>)
// CHECK: ^bb0(%[[ID:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[D:.*]] = linalg.index 2
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[Q:.*]] = tensor.extract %[[T]][%[[ROW]], %[[D]]] : tensor<32x8xi8>
// CHECK: %[[F:.*]] = arith.sitofp %[[Q]] : i8 to f32
// CHECK: %[[RS:.*]] = tensor.extract %[[S]][%[[ROW]]] : tensor<32xf32>
// CHECK: %[[Y:.*]] = arith.mulf %[[F]], %[[RS]] : f32
// CHECK: linalg.yield %[[Y]] : f32
func.func @embedding_q(%ids: tensor<?x?xi32>, %t: tensor<32x8xi8>, %s: tensor<32xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.embedding_q %ids, %t, %s : tensor<?x?xi32>, tensor<32x8xi8>, tensor<32xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @position_embedding_offset
// CHECK: %[[S:.*]] = linalg.index 1
// CHECK: %[[D:.*]] = linalg.index 2
// CHECK: %[[P:.*]] = arith.addi %[[S]], %c5
// CHECK: tensor.extract %{{.*}}[%[[P]], %[[D]]]
func.func @position_embedding_offset(%ids: tensor<?x?xi32>, %t: tensor<16x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.position_embedding %ids, %t {offset = 5} : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @sinusoidal
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x6xf32>
// CHECK: linalg.generic {{.*}} outs(%[[E]] : tensor<?x?x6xf32>)
// CHECK-DAG: math.sin
// CHECK-DAG: math.cos
// CHECK: arith.select
func.func @sinusoidal(%ids: tensor<?x?xi32>) -> tensor<?x?x6xf32> {
  %0 = kiln.sinusoidal_positions %ids {dim = 6} : tensor<?x?xi32> -> tensor<?x?x6xf32>
  return %0 : tensor<?x?x6xf32>
}
