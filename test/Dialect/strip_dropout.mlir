// RUN: kiln-opt %s --split-input-file --kiln-strip-dropout | FileCheck %s

// Every dropout, whatever its rate, is replaced by its input.
// CHECK-LABEL: func.func @strip_all
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK-NOT: kiln.dropout
// CHECK: %[[A:.*]] = kiln.add %[[X]], %[[X]]
// CHECK-NOT: kiln.dropout
// CHECK: return %[[A]]
func.func @strip_all(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.dropout %x {rate = 0.1} : tensor<?x?x8xf32>
  %1 = kiln.add %0, %0 : tensor<?x?x8xf32>
  %2 = kiln.dropout %1 {rate = 0.5} : tensor<?x?x8xf32>
  return %2 : tensor<?x?x8xf32>
}

// -----

// Nothing else changes: the pass folds nothing (a scale by 1.0 stays for canonicalize).
// CHECK-LABEL: func.func @no_dropout_untouched
// CHECK: kiln.scale %{{.*}} {factor = 1.000000e+00 : f64}
func.func @no_dropout_untouched(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.scale %x {factor = 1.0} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}
