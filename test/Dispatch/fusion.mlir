// kiln-dispatch-fusion: reshapes move out of the way of [M, N] epilogues, single-use
// elementwise producers fuse, and an epilogue never fuses into a reduction.
// RUN: kiln-opt %s --split-input-file --kiln-to-linalg --kiln-dispatch-fusion | FileCheck %s

// Bias and GELU (the GELU written over [2, 3, 32] after a reshape) become one [6, 32] generic
// reading the matmul; the reshape moves to the end.
// CHECK-LABEL: func.func @bias_gelu
// CHECK: %[[M:.*]] = linalg.matmul_transpose_b
// CHECK: %[[E:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[M]], %{{.*}} : tensor<6x32xf32>, tensor<32xf32>)
// CHECK: arith.addf
// CHECK: math.tanh
// CHECK: } -> tensor<6x32xf32>
// CHECK-NEXT: %[[R:.*]] = tensor.expand_shape %[[E]] {{\[}}[0, 1], [2]] output_shape [2, 3, 32]
// CHECK-NEXT: return %[[R]]
// CHECK-NOT: tensor.reshape
module {
  kiln.param @w : tensor<32x8xf32> {init = #kiln.init<zeros>}
  kiln.param @b : tensor<32xf32> {init = #kiln.init<zeros>}
  func.func @bias_gelu(%x: tensor<2x3x8xf32> {kiln.input = "x"}) -> (tensor<2x3x32xf32> {kiln.output = "y"}) {
    %w = kiln.param_ref @w : tensor<32x8xf32>
    %b = kiln.param_ref @b : tensor<32xf32>
    %h = kiln.linear %x, %w, %b : tensor<2x3x8xf32>, tensor<32x8xf32>, tensor<32xf32> -> tensor<2x3x32xf32>
    %y = kiln.activation gelu_tanh %h : tensor<2x3x32xf32>
    return %y : tensor<2x3x32xf32>
  }
}

// -----

// The bias of a linear layer feeding a layer norm stays a separate generic (the matmul's
// epilogue); the norm's first reduction reads it.
// CHECK-LABEL: func.func @bias_then_norm
// CHECK: %[[M:.*]] = linalg.matmul_transpose_b
// CHECK: %[[E:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[M]], %{{.*}} : tensor<6x8xf32>, tensor<8xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[E]] : tensor<6x8xf32>)
module {
  kiln.param @w : tensor<8x8xf32> {init = #kiln.init<zeros>}
  kiln.param @b : tensor<8xf32> {init = #kiln.init<zeros>}
  kiln.param @g : tensor<8xf32> {init = #kiln.init<ones>}
  func.func @bias_then_norm(%x: tensor<2x3x8xf32> {kiln.input = "x"}) -> (tensor<2x3x8xf32> {kiln.output = "y"}) {
    %w = kiln.param_ref @w : tensor<8x8xf32>
    %b = kiln.param_ref @b : tensor<8xf32>
    %g = kiln.param_ref @g : tensor<8xf32>
    %h = kiln.linear %x, %w, %b : tensor<2x3x8xf32>, tensor<8x8xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
    %y = kiln.layer_norm %h, %g, %b {eps = 1.0e-05 : f64} : tensor<2x3x8xf32>, tensor<8xf32>
    return %y : tensor<2x3x8xf32>
  }
}
