// RUN: kiln-opt %s --split-input-file --canonicalize | FileCheck %s

// Dropout with rate 0 is the identity, in training too.
// CHECK-LABEL: func.func @dropout_rate_zero
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK-NOT: kiln.dropout
// CHECK: return %[[X]]
func.func @dropout_rate_zero(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.dropout %x {rate = 0.0} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// A nonzero rate matters for training: canonicalization keeps it (kiln-strip-dropout removes
// it for inference).
// CHECK-LABEL: func.func @no_fold_dropout_rate_nonzero
// CHECK: %[[D:.*]] = kiln.dropout %{{.*}} {rate = 1.000000e-01 : f64}
// CHECK: return %[[D]]
func.func @no_fold_dropout_rate_nonzero(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %0 = kiln.dropout %x {rate = 0.1} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}
