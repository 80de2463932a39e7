// RUN: kiln-opt %s --cse | FileCheck %s

// kiln.param_ref and the graph ops are Pure: repeated reads of a parameter and repeated
// computations are shared.
kiln.param @w : tensor<4x8xf32> {init = #kiln.init<normal>, std = 0.02}

// CHECK-LABEL: func.func @shared_reads
// CHECK: %[[W:.*]] = kiln.param_ref @w
// CHECK-NOT: kiln.param_ref
// CHECK: %[[L:.*]] = kiln.linear %{{.*}}, %[[W]]
// CHECK-NOT: kiln.linear
// CHECK: kiln.add %[[L]], %[[L]]
func.func @shared_reads(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %w0 = kiln.param_ref @w : tensor<4x8xf32>
  %w1 = kiln.param_ref @w : tensor<4x8xf32>
  %a = kiln.linear %x, %w0 : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  %b = kiln.linear %x, %w1 : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  %c = kiln.add %a, %b : tensor<?x4xf32>
  return %c : tensor<?x4xf32>
}
