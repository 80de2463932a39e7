// Tensor dispatches become the in-place memref ABI: inputs, then results, as memref arguments.
// RUN: %kiln_cpu_compile %s --emit=prepared | FileCheck %s

// CHECK-LABEL: func.func @add(
// CHECK-SAME:    %[[A:.*]]: memref<4x8xf32>, %[[B:.*]]: memref<4x8xf32>, %[[OUT:.*]]: memref<4x8xf32>) {
// CHECK-DAG:     %[[TA:.*]] = bufferization.to_tensor %[[A]] restrict : memref<4x8xf32>
// CHECK-DAG:     %[[TB:.*]] = bufferization.to_tensor %[[B]] restrict : memref<4x8xf32>
// CHECK:         %[[SUM:.*]] = linalg.add ins(%[[TA]], %[[TB]]
// CHECK:         bufferization.materialize_in_destination %[[SUM]] in restrict writable %[[OUT]]
// CHECK-NEXT:    return
// CHECK-NEXT:  }
func.func @add(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.add ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// Two results: two output buffers, in order.
// CHECK-LABEL: func.func @two_results(
// CHECK-SAME:    %{{.*}}: memref<8xf32>, %[[O0:.*]]: memref<8xf32>, %[[O1:.*]]: memref<8xf32>)
// CHECK:         bufferization.materialize_in_destination %{{.*}} in restrict writable %[[O0]]
// CHECK:         bufferization.materialize_in_destination %{{.*}} in restrict writable %[[O1]]
func.func @two_results(%a: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %e = tensor.empty() : tensor<8xf32>
  %n = linalg.negf ins(%a : tensor<8xf32>) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  return %n, %a : tensor<8xf32>, tensor<8xf32>
}

// A dispatch already in the memref ABI is left as it is.
// CHECK-LABEL: func.func @already_memref(
// CHECK-SAME:    %{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>) {
// CHECK-NOT:     bufferization.to_tensor
func.func @already_memref(%a: memref<8xf32>, %b: memref<8xf32>) {
  linalg.copy ins(%a : memref<8xf32>) outs(%b : memref<8xf32>)
  return
}
