// A cast to a less static type becomes the identity on the specialized value.
// RUN: kiln-opt %s --kiln-specialize-shapes="entry=forward dims=batch=2" | FileCheck %s

// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: tensor<2x1x4xf32>
// CHECK: %[[C:.*]] = tensor.cast %[[X]] : tensor<2x1x4xf32> to tensor<2x1x4xf32>
// CHECK: kiln.activation relu %[[C]] : tensor<2x1x4xf32>
func.func @forward(%x: tensor<?x1x4xf32> {kiln.dims = ["batch"], kiln.input = "x"})
    -> (tensor<?x?x4xf32> {kiln.dims = ["batch", "seq"], kiln.output = "y"}) {
  %c = tensor.cast %x : tensor<?x1x4xf32> to tensor<?x?x4xf32>
  %y = kiln.activation relu %c : tensor<?x?x4xf32>
  return %y : tensor<?x?x4xf32>
}
