// kiln-form-dispatches groups static linalg (from kiln-to-linalg and kiln-dispatch-fusion)
// into outlined dispatch functions and leaves the entry point as calls between parameter
// references and views.
// RUN: kiln-opt %s --split-input-file --kiln-to-linalg --kiln-dispatch-fusion --kiln-form-dispatches | FileCheck %s

// A linear layer with bias and GELU is ONE dispatch: fill, matmul, one epilogue generic.
// CHECK-LABEL: func.func @ffn
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8xf32>
// CHECK-DAG: %[[W:.*]] = kiln.param_ref @w
// CHECK-DAG: %[[B:.*]] = kiln.param_ref @b
// CHECK-DAG: %[[XC:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<2x3x8xf32> into tensor<6x8xf32>
// CHECK: %[[Y:.*]] = call @ffn_dispatch_0(%[[XC]], %[[W]], %[[B]]) : (tensor<6x8xf32>, tensor<32x8xf32>, tensor<32xf32>) -> tensor<6x32xf32>
// CHECK-NEXT: %[[YE:.*]] = tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]]
// CHECK-NEXT: return %[[YE]]
// CHECK-LABEL: func.func private @ffn_dispatch_0
// CHECK-SAME: (%[[A:.*]]: tensor<6x8xf32>, %[[WA:.*]]: tensor<32x8xf32>, %[[BA:.*]]: tensor<32xf32>) -> tensor<6x32xf32>
// CHECK-SAME: attributes {kiln_dispatch = "ffn"}
// CHECK: %[[F:.*]] = linalg.fill
// CHECK: %[[M:.*]] = linalg.matmul_transpose_b ins(%[[A]], %[[WA]] : {{.*}}) outs(%[[F]] :
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[BA]] :
// CHECK: math.tanh
// CHECK: return %[[E]] : tensor<6x32xf32>
// CHECK-NOT: func.func private @ffn_dispatch_1
module {
  kiln.param @w : tensor<32x8xf32> {init = #kiln.init<zeros>}
  kiln.param @b : tensor<32xf32> {init = #kiln.init<zeros>}
  func.func @ffn(%x: tensor<2x3x8xf32> {kiln.input = "x"}) -> (tensor<2x3x32xf32> {kiln.output = "y"}) {
    %w = kiln.param_ref @w : tensor<32x8xf32>
    %b = kiln.param_ref @b : tensor<32xf32>
    %h = kiln.linear %x, %w, %b : tensor<2x3x8xf32>, tensor<32x8xf32>, tensor<32xf32> -> tensor<2x3x32xf32>
    %y = kiln.activation gelu_tanh %h : tensor<2x3x32xf32>
    return %y : tensor<2x3x32xf32>
  }
}

// -----

// Decode-sized: a one-row linear layer keeps its bias + GELU epilogue in its dispatch too; how a
// target runs few rows is the target's business.
// CHECK-LABEL: func.func @ffn_one_row
// CHECK: %[[Y:.*]] = call @ffn_one_row_dispatch_0(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x8xf32>, tensor<32x8xf32>, tensor<32xf32>) -> tensor<1x32xf32>
// CHECK-LABEL: func.func private @ffn_one_row_dispatch_0
// CHECK: %[[M:.*]] = linalg.matmul_transpose_b
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[M]], %{{.*}} :
// CHECK: math.tanh
// CHECK: return %[[E]] : tensor<1x32xf32>
// CHECK-NOT: func.func private @ffn_one_row_dispatch_1
module {
  kiln.param @w : tensor<32x8xf32> {init = #kiln.init<zeros>}
  kiln.param @b : tensor<32xf32> {init = #kiln.init<zeros>}
  func.func @ffn_one_row(%x: tensor<1x1x8xf32> {kiln.input = "x"}) -> (tensor<1x1x32xf32> {kiln.output = "y"}) {
    %w = kiln.param_ref @w : tensor<32x8xf32>
    %b = kiln.param_ref @b : tensor<32xf32>
    %h = kiln.linear %x, %w, %b : tensor<1x1x8xf32>, tensor<32x8xf32>, tensor<32xf32> -> tensor<1x1x32xf32>
    %y = kiln.activation gelu_tanh %h : tensor<1x1x32xf32>
    return %y : tensor<1x1x32xf32>
  }
}

// -----

// A layer norm is one dispatch of its own: mean, centred values, variance, affine.
// CHECK-LABEL: func.func @norm
// CHECK: %[[N:.*]] = call @norm_dispatch_0(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<2x3x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
// CHECK-NEXT: return %[[N]]
// CHECK-LABEL: func.func private @norm_dispatch_0
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: math.sqrt
// CHECK: return
// CHECK-NOT: func.func private @norm_dispatch_1
module {
  kiln.param @g : tensor<8xf32> {init = #kiln.init<ones>}
  kiln.param @b : tensor<8xf32> {init = #kiln.init<zeros>}
  func.func @norm(%x: tensor<2x3x8xf32> {kiln.input = "x"}) -> (tensor<2x3x8xf32> {kiln.output = "y"}) {
    %g = kiln.param_ref @g : tensor<8xf32>
    %b = kiln.param_ref @b : tensor<8xf32>
    %y = kiln.layer_norm %x, %g, %b {eps = 1.0e-05 : f64} : tensor<2x3x8xf32>, tensor<8xf32>
    return %y : tensor<2x3x8xf32>
  }
}

// -----

// Causal attention: the scores contraction with its scale + mask epilogue, the softmax
// statistics (max, exp, sum), and the weighted sum of V with its division.
// CHECK-LABEL: func.func @attention
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x4x8xf32>{{.*}}, %[[K:[^:]*]]: tensor<1x4x8xf32>{{.*}}, %[[V:[^:]*]]: tensor<1x4x8xf32>
// CHECK-DAG: %[[QE:.*]] = tensor.expand_shape %[[Q]]
// CHECK-DAG: %[[KE:.*]] = tensor.expand_shape %[[K]]
// CHECK-DAG: %[[VE:.*]] = tensor.expand_shape %[[V]]
// CHECK: %[[S:.*]] = call @attention_dispatch_0(%[[QE]], %[[KE]]) : (tensor<1x4x2x4xf32>, tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
// CHECK: %[[P:.*]]:2 = call @attention_dispatch_1(%[[S]]) : (tensor<1x2x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4xf32>)
// CHECK: %[[O:.*]] = call @attention_dispatch_2(%[[P]]#0, %[[VE]], %[[P]]#1) : (tensor<1x2x4x4xf32>, tensor<1x4x2x4xf32>, tensor<1x2x4xf32>) -> tensor<1x4x2x4xf32>
// CHECK: %[[OC:.*]] = tensor.collapse_shape %[[O]]
// CHECK: return %[[OC]]
// CHECK-LABEL: func.func private @attention_dispatch_0
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK: linalg.index
// CHECK: arith.select
// CHECK: return
// CHECK-LABEL: func.func private @attention_dispatch_1
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: return
// CHECK-LABEL: func.func private @attention_dispatch_2
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]
// CHECK: arith.divf
// CHECK: return
func.func @attention(%q: tensor<1x4x8xf32> {kiln.input = "q"}, %k: tensor<1x4x8xf32> {kiln.input = "k"},
                     %v: tensor<1x4x8xf32> {kiln.input = "v"}) -> (tensor<1x4x8xf32> {kiln.output = "o"}) {
  %o = kiln.attention %q, %k, %v {causal, head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : tensor<1x4x8xf32>, tensor<1x4x8xf32>
  return %o : tensor<1x4x8xf32>
}

// -----

// A residual add after a linear layer joins the matmul's epilogue (bias + residual).
// CHECK-LABEL: func.func @residual
// CHECK: call @residual_dispatch_0
// CHECK-NOT: call
// CHECK-LABEL: func.func private @residual_dispatch_0
// CHECK: linalg.matmul_transpose_b
// CHECK: linalg.generic
// CHECK-COUNT-2: arith.addf
// CHECK-NOT: linalg.generic
// CHECK: return
module {
  kiln.param @w : tensor<8x8xf32> {init = #kiln.init<zeros>}
  kiln.param @b : tensor<8xf32> {init = #kiln.init<zeros>}
  func.func @residual(%x: tensor<2x3x8xf32> {kiln.input = "x"}) -> (tensor<2x3x8xf32> {kiln.output = "y"}) {
    %w = kiln.param_ref @w : tensor<8x8xf32>
    %b = kiln.param_ref @b : tensor<8xf32>
    %h = kiln.linear %x, %w, %b : tensor<2x3x8xf32>, tensor<8x8xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
    %y = kiln.add %x, %h : tensor<2x3x8xf32>
    return %y : tensor<2x3x8xf32>
  }
}

// -----

// A matmul read by two elementwise ops keeps no epilogue: each consumer is its own dispatch.
// CHECK-LABEL: func.func @two_users
// CHECK: %[[M:.*]] = call @two_users_dispatch_0
// CHECK: call @two_users_dispatch_1(%[[M]])
// CHECK: call @two_users_dispatch_2(%[[M]])
// CHECK-LABEL: func.func private @two_users_dispatch_0
// CHECK: linalg.matmul_transpose_b
// CHECK-NOT: linalg.generic
// CHECK: return
// CHECK-LABEL: func.func private @two_users_dispatch_1
// CHECK: arith.maximumf
// CHECK-LABEL: func.func private @two_users_dispatch_2
// CHECK: math.tanh
module {
  kiln.param @w : tensor<8x8xf32> {init = #kiln.init<zeros>}
  func.func @two_users(%x: tensor<6x8xf32> {kiln.input = "x"}) -> (tensor<6x8xf32> {kiln.output = "a"}, tensor<6x8xf32> {kiln.output = "b"}) {
    %w = kiln.param_ref @w : tensor<8x8xf32>
    %h = kiln.linear %x, %w : tensor<6x8xf32>, tensor<8x8xf32> -> tensor<6x8xf32>
    %a = kiln.activation relu %h : tensor<6x8xf32>
    %b = kiln.activation tanh %h : tensor<6x8xf32>
    return %a, %b : tensor<6x8xf32>, tensor<6x8xf32>
  }
}
