// RUN: kiln-opt %s --split-input-file --canonicalize | FileCheck %s

// scale(scale(x, a), b) becomes scale(x, a * b).
// CHECK-LABEL: func.func @scale_of_scale
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK: %[[S:.*]] = kiln.scale %[[X]] {factor = 1.500000e+00 : f64}
// CHECK-NOT: kiln.scale
// CHECK: return %[[S]]
func.func @scale_of_scale(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.scale %x {factor = 0.5} : tensor<?x?x8xf32>
  %1 = kiln.scale %0 {factor = 3.0} : tensor<?x?x8xf32>
  return %1 : tensor<?x?x8xf32>
}

// -----

// A chain whose factors multiply to 1.0 disappears altogether.
// CHECK-LABEL: func.func @scale_chain_to_identity
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK-NOT: kiln.scale
// CHECK: return %[[X]]
func.func @scale_chain_to_identity(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.scale %x {factor = 0.25} : tensor<?x?x8xf32>
  %1 = kiln.scale %0 {factor = 4.0} : tensor<?x?x8xf32>
  return %1 : tensor<?x?x8xf32>
}

// -----

// The inner scale has another user: it stays, the outer one reads x directly.
// CHECK-LABEL: func.func @scale_of_shared_scale
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK-DAG: %[[A:.*]] = kiln.scale %[[X]] {factor = 5.000000e-01 : f64}
// CHECK-DAG: %[[B:.*]] = kiln.scale %[[X]] {factor = 1.500000e+00 : f64}
// CHECK: kiln.add %[[A]], %[[B]]
func.func @scale_of_shared_scale(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.scale %x {factor = 0.5} : tensor<?x?x8xf32>
  %1 = kiln.scale %0 {factor = 3.0} : tensor<?x?x8xf32>
  %2 = kiln.add %0, %1 : tensor<?x?x8xf32>
  return %2 : tensor<?x?x8xf32>
}

// -----

// A scale of another op is left alone.
// CHECK-LABEL: func.func @no_chain_scale_of_add
// CHECK: %[[A:.*]] = kiln.add
// CHECK: kiln.scale %[[A]] {factor = 3.000000e+00 : f64}
func.func @no_chain_scale_of_add(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.add %x, %x : tensor<?x?x8xf32>
  %1 = kiln.scale %0 {factor = 3.0} : tensor<?x?x8xf32>
  return %1 : tensor<?x?x8xf32>
}
