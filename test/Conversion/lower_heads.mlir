// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @pool_first
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK: tensor.extract_slice %[[X]][0, 0, 0] [%{{.*}}, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
// CHECK-NOT: linalg.generic
func.func @pool_first(%x: tensor<?x?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.pool first %x : tensor<?x?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @pool_mean_mask
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>, %[[M:.*]]: tensor<?x?xi32>)
// CHECK: %[[SUMS:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]{{.*}} ins(%[[X]], %[[M]] :
// CHECK: arith.cmpi ne
// CHECK: arith.uitofp
// CHECK: %[[COUNTS:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[M]] :
// CHECK: %[[FLOOR:.*]] = arith.constant 9.99999971E-10 : f32
// CHECK: linalg.generic {{.*}} ins(%[[SUMS]], %[[COUNTS]] :
// CHECK: arith.maximumf %{{.*}}, %[[FLOOR]]
// CHECK: arith.divf
func.func @pool_mean_mask(%x: tensor<?x?x8xf32>, %m: tensor<?x?xi32>) -> tensor<?x8xf32> {
  %0 = kiln.pool mean %x mask(%m : tensor<?x?xi32>) : tensor<?x?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Causal LM: logits[:, :S-1] against labels[:, 1:]; a stable log-softmax; the mean over
// labels that are not ignore_index.
// CHECK-LABEL: func.func @cross_entropy_shift
// CHECK-SAME: (%[[L:.*]]: tensor<?x?x16xf32>, %[[Y:.*]]: tensor<?x?xi32>)
// CHECK: %[[S:.*]] = tensor.dim %[[L]], %c1
// CHECK: %[[S1:.*]] = arith.subi %[[S]], %c1
// CHECK: %[[LS:.*]] = tensor.extract_slice %[[L]][0, 0, 0] [%{{.*}}, %[[S1]], 16] [1, 1, 1]
// CHECK: %[[YS:.*]] = tensor.extract_slice %[[Y]][0, 1] [%{{.*}}, %[[S1]]] [1, 1]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}}, %[[YS]] :
// CHECK: arith.cmpi eq, %{{.*}}, %c-100_i32 : i32
// CHECK: tensor.extract %[[LS]]
// CHECK: math.log
// CHECK: -> (tensor<f32>, tensor<f32>)
// CHECK: arith.divf
func.func @cross_entropy_shift(%l: tensor<?x?x16xf32>, %y: tensor<?x?xi32>) -> tensor<f32> {
  %0 = kiln.cross_entropy %l, %y {shift} : tensor<?x?x16xf32>, tensor<?x?xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// CHECK-LABEL: func.func @cross_entropy_classes
// CHECK-NOT: tensor.extract_slice
// CHECK: iterator_types = ["reduction"]
// CHECK: arith.cmpi eq, %{{.*}}, %c3_i32 : i32
func.func @cross_entropy_classes(%l: tensor<?x4xf32>, %y: tensor<?xi32>) -> tensor<f32> {
  %0 = kiln.cross_entropy %l, %y {ignore_index = 3} : tensor<?x4xf32>, tensor<?xi32> -> tensor<f32>
  return %0 : tensor<f32>
}
