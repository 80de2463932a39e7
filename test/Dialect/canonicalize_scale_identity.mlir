// RUN: kiln-opt %s --split-input-file --canonicalize | FileCheck %s

// A scale by exactly 1.0 folds to its input.
// CHECK-LABEL: func.func @scale_by_one
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK-NOT: kiln.scale
// CHECK: return %[[X]]
func.func @scale_by_one(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.scale %x {factor = 1.0} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @no_fold_scale_by_two
// CHECK: %[[S:.*]] = kiln.scale %{{.*}} {factor = 2.000000e+00 : f64}
// CHECK: return %[[S]]
func.func @no_fold_scale_by_two(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.scale %x {factor = 2.0} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @no_fold_scale_by_nearly_one
// CHECK: kiln.scale %{{.*}} {factor = 1.0000000000000002 : f64}
func.func @no_fold_scale_by_nearly_one(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.scale %x {factor = 1.0000000000000002} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}
