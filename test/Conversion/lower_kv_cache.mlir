// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s

// The rows go into cache[layer, :, p : p+S, :]; the prefix is cache[layer, :, 0 : p+S, :] of
// the updated cache (slices, no copies).
// CHECK-LABEL: func.func @cache_append
// CHECK-SAME: (%[[K:.*]]: tensor<?x?x16xf32>, %[[C:.*]]: tensor<2x?x32x16xf32>, %[[P:.*]]: tensor<1xi32>)
// CHECK: %[[PV:.*]] = tensor.extract %[[P]][%{{.*}}] : tensor<1xi32>
// CHECK: %[[PI:.*]] = arith.index_cast %[[PV]] : i32 to index
// CHECK: %[[S:.*]] = tensor.dim %[[K]], %c1
// CHECK: %[[U:.*]] = tensor.insert_slice %[[K]] into %[[C]][1, 0, %[[PI]], 0] [1, %{{.*}}, %[[S]], 16] [1, 1, 1, 1] : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>
// CHECK: %[[L:.*]] = arith.addi %[[PI]], %[[S]] : index
// CHECK: %[[R:.*]] = tensor.extract_slice %[[U]][1, 0, 0, 0] [1, %{{.*}}, %[[L]], 16] [1, 1, 1, 1] : tensor<2x?x32x16xf32> to tensor<?x?x16xf32>
// CHECK: return %[[U]], %[[R]]
func.func @cache_append(%k: tensor<?x?x16xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>)
    -> (tensor<2x?x32x16xf32>, tensor<?x?x16xf32>) {
  %c, %prefix = kiln.kv_cache_append %k into %cache[1] at %p : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
  return %c, %prefix : tensor<2x?x32x16xf32>, tensor<?x?x16xf32>
}

// -----

// The position operand is read once, outside the gather, and added to the row index.
// CHECK-LABEL: func.func @position_embedding_operand
// CHECK: %[[PV:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<1xi32>
// CHECK: %[[PI:.*]] = arith.index_cast %[[PV]] : i32 to index
// CHECK: linalg.generic
// CHECK: %[[S:.*]] = linalg.index 1 : index
// CHECK: %[[ROW:.*]] = arith.addi %[[S]], %[[PI]] : index
// CHECK: tensor.extract %{{.*}}[%[[ROW]], %{{.*}}] : tensor<16x8xf32>
func.func @position_embedding_operand(%ids: tensor<?x?xi32>, %t: tensor<16x8xf32>, %p: tensor<1xi32>) -> tensor<?x?x8xf32> {
  %0 = kiln.position_embedding %ids, %t position(%p : tensor<1xi32>) : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// The rotary angle's position is s + p.
// CHECK-LABEL: func.func @rotary_operand
// CHECK: %[[PV:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<1xi32>
// CHECK: %[[PI:.*]] = arith.index_cast %[[PV]] : i32 to index
// CHECK: linalg.generic
// CHECK: %[[S:.*]] = linalg.index 1 : index
// CHECK: arith.addi %[[S]], %[[PI]] : index
// CHECK: math.sin
func.func @rotary_operand(%x: tensor<?x?x16xf32>, %p: tensor<1xi32>) -> tensor<?x?x16xf32> {
  %0 = kiln.rotary %x position(%p : tensor<1xi32>) {num_heads = 2, head_dim = 8} : tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}
