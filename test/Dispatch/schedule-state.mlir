// Caller-owned state (kiln.state, a KV cache) binds as kind "state" where it is read and where
// the dispatch producing its new value writes it in place.
// RUN: kiln-opt %s --kiln-print-dispatch-schedule=entries=step -o /dev/null | FileCheck %s

// CHECK: {"buffers":[{"kind":"input","name":"x"},{"kind":"state","name":"cache"},{"kind":"output","name":"y"},{"kind":"state","name":"cache"}],"dispatch":"step_dispatch_0","scalars":[]}
func.func private @step_dispatch_0(%x: tensor<4xf32>, %c: tensor<8x4xf32>) -> (tensor<4xf32>, tensor<8x4xf32>) attributes {kiln_dispatch = "step"} {
  return %x, %c : tensor<4xf32>, tensor<8x4xf32>
}
func.func @step(%x: tensor<4xf32> {kiln.input = "x"}, %cache: tensor<8x4xf32> {kiln.state = "cache"})
    -> (tensor<4xf32> {kiln.output = "y"}, tensor<8x4xf32> {kiln.state = "cache"}) {
  %y, %c = call @step_dispatch_0(%x, %cache) : (tensor<4xf32>, tensor<8x4xf32>) -> (tensor<4xf32>, tensor<8x4xf32>)
  return %y, %c : tensor<4xf32>, tensor<8x4xf32>
}
