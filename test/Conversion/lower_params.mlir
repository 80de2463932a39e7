// RUN: kiln-opt %s --kiln-lower-to-linalg | FileCheck %s

// Parameters stay for the entry-point ABI to bind; the ops using them are lowered.
// CHECK: kiln.param @w : tensor<4x8xf32>
kiln.param @w : tensor<4x8xf32> {init = #kiln.init<normal>, std = 0.02}

// CHECK-LABEL: func.func @uses_param
// CHECK: %[[W:.*]] = kiln.param_ref @w : tensor<4x8xf32>
// CHECK: linalg.matmul_transpose_b ins(%{{.*}}, %[[W]] :
// CHECK-NOT: kiln.linear
func.func @uses_param(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %w = kiln.param_ref @w : tensor<4x8xf32>
  %0 = kiln.linear %x, %w : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}
