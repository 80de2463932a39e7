// kiln-dedupe-dispatches: dispatch functions with identical signatures and bodies are merged
// into the first one and their calls redirected; one differing attribute, shape, operand
// order or region body keeps them apart.
// RUN: kiln-opt %s --split-input-file --kiln-dedupe-dispatches | FileCheck %s

// Dispatches 0 and 2 are the same computation on different parameters (two layers); 1 is not.
// CHECK-LABEL: func.func @merge_identical
// CHECK: %[[A:.*]] = call @merge_identical_dispatch_0(%arg0, %arg1)
// CHECK: %[[B:.*]] = call @merge_identical_dispatch_1(%[[A]], %arg1)
// CHECK: call @merge_identical_dispatch_0(%[[B]], %arg2)
// CHECK: func.func private @merge_identical_dispatch_0
// CHECK: func.func private @merge_identical_dispatch_1
// CHECK-NOT: @merge_identical_dispatch_2
func.func @merge_identical(%x: tensor<4x8xf32>, %w0: tensor<8xf32>, %w1: tensor<8xf32>) -> tensor<4x8xf32> {
  %0 = call @merge_identical_dispatch_0(%x, %w0) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %1 = call @merge_identical_dispatch_1(%0, %w0) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %2 = call @merge_identical_dispatch_2(%1, %w1) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}
func.func private @merge_identical_dispatch_0(%arg0: tensor<4x8xf32>, %arg1: tensor<8xf32>) -> tensor<4x8xf32> attributes {kiln_dispatch = "merge_identical"} {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%arg0, %arg1 : tensor<4x8xf32>, tensor<8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
func.func private @merge_identical_dispatch_1(%arg0: tensor<4x8xf32>, %arg1: tensor<8xf32>) -> tensor<4x8xf32> attributes {kiln_dispatch = "merge_identical"} {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%arg0, %arg1 : tensor<4x8xf32>, tensor<8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
// Same as dispatch 0 up to SSA names and locations.
func.func private @merge_identical_dispatch_2(%in: tensor<4x8xf32>, %bias: tensor<8xf32>) -> tensor<4x8xf32> attributes {kiln_dispatch = "merge_identical"} {
  %init = tensor.empty() : tensor<4x8xf32> loc("elsewhere")
  %out = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%in, %bias : tensor<4x8xf32>, tensor<8xf32>) outs(%init : tensor<4x8xf32>) {
  ^bb0(%p: f32, %q: f32, %unused: f32):
    %sum = arith.addf %p, %q : f32
    linalg.yield %sum : f32
  } -> tensor<4x8xf32>
  return %out : tensor<4x8xf32>
}

// -----

// One attribute differs (the constant): both dispatches stay.
// CHECK-LABEL: func.func @keep_attribute_differs
// CHECK: call @keep_attribute_differs_dispatch_0
// CHECK: call @keep_attribute_differs_dispatch_1
// CHECK: func.func private @keep_attribute_differs_dispatch_0
// CHECK: func.func private @keep_attribute_differs_dispatch_1
func.func @keep_attribute_differs(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = call @keep_attribute_differs_dispatch_0(%x) : (tensor<8xf32>) -> tensor<8xf32>
  %1 = call @keep_attribute_differs_dispatch_1(%0) : (tensor<8xf32>) -> tensor<8xf32>
  return %1 : tensor<8xf32>
}
func.func private @keep_attribute_differs_dispatch_0(%arg0: tensor<8xf32>) -> tensor<8xf32> attributes {kiln_dispatch = "keep_attribute_differs"} {
  %c = arith.constant dense<2.0> : tensor<8xf32>
  %r = arith.mulf %arg0, %c : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func private @keep_attribute_differs_dispatch_1(%arg0: tensor<8xf32>) -> tensor<8xf32> attributes {kiln_dispatch = "keep_attribute_differs"} {
  %c = arith.constant dense<3.0> : tensor<8xf32>
  %r = arith.mulf %arg0, %c : tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

// One shape differs: both dispatches stay.
// CHECK-LABEL: func.func @keep_shape_differs
// CHECK: call @keep_shape_differs_dispatch_0
// CHECK: call @keep_shape_differs_dispatch_1
// CHECK: func.func private @keep_shape_differs_dispatch_0
// CHECK: func.func private @keep_shape_differs_dispatch_1
func.func @keep_shape_differs(%x: tensor<8xf32>, %y: tensor<16xf32>) -> (tensor<8xf32>, tensor<16xf32>) {
  %0 = call @keep_shape_differs_dispatch_0(%x) : (tensor<8xf32>) -> tensor<8xf32>
  %1 = call @keep_shape_differs_dispatch_1(%y) : (tensor<16xf32>) -> tensor<16xf32>
  return %0, %1 : tensor<8xf32>, tensor<16xf32>
}
func.func private @keep_shape_differs_dispatch_0(%arg0: tensor<8xf32>) -> tensor<8xf32> attributes {kiln_dispatch = "keep_shape_differs"} {
  %r = math.exp %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func private @keep_shape_differs_dispatch_1(%arg0: tensor<16xf32>) -> tensor<16xf32> attributes {kiln_dispatch = "keep_shape_differs"} {
  %r = math.exp %arg0 : tensor<16xf32>
  return %r : tensor<16xf32>
}

// -----

// The same ops with the arguments in other positions (x - y against y - x): both stay.
// CHECK-LABEL: func.func @keep_operand_order
// CHECK: call @keep_operand_order_dispatch_0
// CHECK: call @keep_operand_order_dispatch_1
// CHECK: func.func private @keep_operand_order_dispatch_0
// CHECK: func.func private @keep_operand_order_dispatch_1
func.func @keep_operand_order(%x: tensor<8xf32>, %y: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %0 = call @keep_operand_order_dispatch_0(%x, %y) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %1 = call @keep_operand_order_dispatch_1(%x, %y) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %0, %1 : tensor<8xf32>, tensor<8xf32>
}
func.func private @keep_operand_order_dispatch_0(%arg0: tensor<8xf32>, %arg1: tensor<8xf32>) -> tensor<8xf32> attributes {kiln_dispatch = "keep_operand_order"} {
  %r = arith.subf %arg0, %arg1 : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func private @keep_operand_order_dispatch_1(%arg0: tensor<8xf32>, %arg1: tensor<8xf32>) -> tensor<8xf32> attributes {kiln_dispatch = "keep_operand_order"} {
  %r = arith.subf %arg1, %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

// Across entry points: prefill's dispatch merges into forward's (the first in the module);
// identical functions that are not dispatches are left alone.
// CHECK-LABEL: func.func @forward
// CHECK: call @forward_dispatch_0
// CHECK-LABEL: func.func @prefill
// CHECK: call @forward_dispatch_0
// CHECK: func.func private @forward_dispatch_0({{.*}}) -> tensor<8xf32> attributes {kiln_dispatch = "forward"}
// CHECK-NOT: @prefill_dispatch_0
// CHECK: func.func private @helper_a
// CHECK: func.func private @helper_b
func.func @forward(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = call @forward_dispatch_0(%x) : (tensor<8xf32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}
func.func @prefill(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = call @prefill_dispatch_0(%x) : (tensor<8xf32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}
func.func private @forward_dispatch_0(%arg0: tensor<8xf32>) -> tensor<8xf32> attributes {kiln_dispatch = "forward"} {
  %r = math.tanh %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func private @prefill_dispatch_0(%arg0: tensor<8xf32>) -> tensor<8xf32> attributes {kiln_dispatch = "prefill"} {
  %r = math.tanh %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func private @helper_a(%arg0: tensor<8xf32>) -> tensor<8xf32> {
  %r = math.tanh %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func private @helper_b(%arg0: tensor<8xf32>) -> tensor<8xf32> {
  %r = math.tanh %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

// Argument attributes are part of the signature: different ones keep the dispatches apart.
// CHECK-LABEL: func.func @keep_arg_attrs_differ
// CHECK: call @keep_arg_attrs_differ_dispatch_0
// CHECK: call @keep_arg_attrs_differ_dispatch_1
func.func @keep_arg_attrs_differ(%x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %0 = call @keep_arg_attrs_differ_dispatch_0(%x) : (tensor<8xf32>) -> tensor<8xf32>
  %1 = call @keep_arg_attrs_differ_dispatch_1(%x) : (tensor<8xf32>) -> tensor<8xf32>
  return %0, %1 : tensor<8xf32>, tensor<8xf32>
}
func.func private @keep_arg_attrs_differ_dispatch_0(%arg0: tensor<8xf32> {dedupe.note = 1 : i64}) -> tensor<8xf32> attributes {kiln_dispatch = "keep_arg_attrs_differ"} {
  %r = math.exp %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func private @keep_arg_attrs_differ_dispatch_1(%arg0: tensor<8xf32> {dedupe.note = 2 : i64}) -> tensor<8xf32> attributes {kiln_dispatch = "keep_arg_attrs_differ"} {
  %r = math.exp %arg0 : tensor<8xf32>
  return %r : tensor<8xf32>
}
