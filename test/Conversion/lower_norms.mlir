// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s

// Two-pass layer norm: mean, then the variance of the centred values.
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>, %[[G:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]]
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]]
// CHECK: arith.divf
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[MEAN]]
// CHECK: arith.subf
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[C]]
// CHECK: arith.constant 9.99999974E-6 : f32
// CHECK: %[[INV:.*]] = linalg.generic {{.*}} ins(%[[SQ]]
// CHECK: math.sqrt
// CHECK: linalg.generic {{.*}} ins(%[[C]], %[[INV]], %[[G]], %[[B]] :
func.func @layer_norm(%x: tensor<?x?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.layer_norm %x, %g, %b {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>, %[[G:.*]]: tensor<8xf32>)
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]]
// CHECK: arith.mulf
// CHECK: %[[INV:.*]] = linalg.generic {{.*}} ins(%[[SQ]]
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[INV]], %[[G]] :
// CHECK-NOT: arith.subf
func.func @rms_norm(%x: tensor<?x?x8xf32>, %g: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.rms_norm %x, %g {eps = 1.0e-6} : tensor<?x?x8xf32>, tensor<8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// The width D is read at run time when it is dynamic.
// CHECK-LABEL: func.func @rms_norm_dynamic_width
// CHECK: %[[D:.*]] = tensor.dim %{{.*}}, %c1
// CHECK: %[[I:.*]] = arith.index_cast %[[D]] : index to i64
// CHECK: arith.sitofp %[[I]] : i64 to f32
func.func @rms_norm_dynamic_width(%x: tensor<4x?xf32>, %g: tensor<?xf32>) -> tensor<4x?xf32> {
  %0 = kiln.rms_norm %x, %g {eps = 1.0e-6} : tensor<4x?xf32>, tensor<?xf32>
  return %0 : tensor<4x?xf32>
}
