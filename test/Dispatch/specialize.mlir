// kiln-specialize-shapes binds batch and seq and re-infers every kiln op's result type: the
// signature, the body and the function type become static; callers keep their dynamic types
// through casts.
// RUN: kiln-opt %s --split-input-file --kiln-specialize-shapes="entry=forward dims=batch=2,seq=5" | FileCheck %s

// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[IDS:.*]]: tensor<2x5xi32> {kiln.input = "ids"})
// CHECK-SAME: -> (tensor<2x5x8xf32> {kiln.output = "x"})
// CHECK-SAME: attributes {kiln_static_dims = {batch = 2 : i64, seq = 5 : i64}}
// CHECK: %[[E:.*]] = kiln.embedding %[[IDS]], %{{.*}} : tensor<2x5xi32>, tensor<11x8xf32> -> tensor<2x5x8xf32>
// CHECK: %[[N:.*]] = kiln.layer_norm %[[E]], {{.*}} : tensor<2x5x8xf32>, tensor<8xf32>
// CHECK: %[[L:.*]] = kiln.linear %[[N]], {{.*}} -> tensor<2x5x8xf32>
// CHECK: return %[[L]] : tensor<2x5x8xf32>
// CHECK-NOT: ?
module {
  kiln.param @wte : tensor<11x8xf32> {init = #kiln.init<zeros>}
  kiln.param @g : tensor<8xf32> {init = #kiln.init<ones>}
  kiln.param @b : tensor<8xf32> {init = #kiln.init<zeros>}
  kiln.param @w : tensor<8x8xf32> {init = #kiln.init<zeros>}
  func.func @forward(%ids: tensor<?x?xi32> {kiln.dims = ["batch", "seq"], kiln.input = "ids"})
      -> (tensor<?x?x8xf32> {kiln.dims = ["batch", "seq"], kiln.output = "x"}) {
    %wte = kiln.param_ref @wte : tensor<11x8xf32>
    %e = kiln.embedding %ids, %wte : tensor<?x?xi32>, tensor<11x8xf32> -> tensor<?x?x8xf32>
    %g = kiln.param_ref @g : tensor<8xf32>
    %b = kiln.param_ref @b : tensor<8xf32>
    %n = kiln.layer_norm %e, %g, %b {eps = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
    %w = kiln.param_ref @w : tensor<8x8xf32>
    %l = kiln.linear %n, %w : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
    return %l : tensor<?x?x8xf32>
  }
}

// -----

// A caller of the specialized entry point casts to and from the static types.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: tensor<2x5xi32>
// CHECK-LABEL: func.func @loss
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x?xi32>
// CHECK: %[[C:.*]] = tensor.cast %[[IDS]] : tensor<?x?xi32> to tensor<2x5xi32>
// CHECK: %[[R:.*]] = call @forward(%[[C]]) : (tensor<2x5xi32>) -> tensor<2x5x8xf32>
// CHECK: %[[B:.*]] = tensor.cast %[[R]] : tensor<2x5x8xf32> to tensor<?x?x8xf32>
// CHECK: kiln.activation relu %[[B]] : tensor<?x?x8xf32>
module {
  kiln.param @wte : tensor<11x8xf32> {init = #kiln.init<zeros>}
  func.func @forward(%ids: tensor<?x?xi32> {kiln.dims = ["batch", "seq"], kiln.input = "ids"})
      -> (tensor<?x?x8xf32> {kiln.dims = ["batch", "seq"], kiln.output = "x"}) {
    %wte = kiln.param_ref @wte : tensor<11x8xf32>
    %e = kiln.embedding %ids, %wte : tensor<?x?xi32>, tensor<11x8xf32> -> tensor<?x?x8xf32>
    return %e : tensor<?x?x8xf32>
  }
  func.func @loss(%ids: tensor<?x?xi32> {kiln.dims = ["batch", "seq"], kiln.input = "ids"})
      -> (tensor<?x?x8xf32> {kiln.dims = ["batch", "seq"], kiln.output = "y"}) {
    %x = call @forward(%ids) : (tensor<?x?xi32>) -> tensor<?x?x8xf32>
    %y = kiln.activation relu %x : tensor<?x?x8xf32>
    return %y : tensor<?x?x8xf32>
  }
}

