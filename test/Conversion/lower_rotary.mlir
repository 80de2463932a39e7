// RUN: kiln-opt %s --kiln-lower-to-linalg | FileCheck %s

// Rotate-half: each channel reads its partner h = head_dim/2 channels away.
// CHECK-LABEL: func.func @rotary
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x16xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[X]] : tensor<?x?x16xf32>)
// CHECK: %[[I:.*]] = arith.remui %{{.*}}, %c8 : index
// CHECK: %[[LOW:.*]] = arith.cmpi ult, %[[I]], %c4 : index
// CHECK: %[[P:.*]] = arith.select %[[LOW]]
// CHECK: tensor.extract %[[X]][%{{.*}}, %{{.*}}, %[[P]]]
// CHECK-DAG: math.sin
// CHECK-DAG: math.cos
func.func @rotary(%x: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %0 = kiln.rotary %x {num_heads = 2, head_dim = 8} : tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}
