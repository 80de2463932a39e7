// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @pool_first
func.func @pool_first(%x: tensor<?x?x8xf32>) -> tensor<?x8xf32> {
  // CHECK: kiln.pool first %{{.*}} : tensor<?x?x8xf32> -> tensor<?x8xf32>
  %0 = kiln.pool first %x : tensor<?x?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @pool_mean_masked
func.func @pool_mean_masked(%x: tensor<?x?x8xf32>, %m: tensor<?x?xi32>) -> tensor<?x8xf32> {
  // CHECK: kiln.pool mean %{{.*}} mask(%{{.*}} : tensor<?x?xi32>) : tensor<?x?x8xf32> -> tensor<?x8xf32>
  %0 = kiln.pool mean %x mask(%m : tensor<?x?xi32>) : tensor<?x?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @causal_lm_loss
func.func @causal_lm_loss(%logits: tensor<?x?x32xf32>, %labels: tensor<?x?xi32>) -> tensor<f32> {
  // CHECK: kiln.cross_entropy %{{.*}}, %{{.*}} {shift} : tensor<?x?x32xf32>, tensor<?x?xi32> -> tensor<f32>
  %0 = kiln.cross_entropy %logits, %labels {shift} : tensor<?x?x32xf32>, tensor<?x?xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// CHECK-LABEL: func.func @classification_loss
func.func @classification_loss(%logits: tensor<?x3xf32>, %labels: tensor<?xi32>) -> tensor<f32> {
  // CHECK: kiln.cross_entropy %{{.*}}, %{{.*}} {ignore_index = -1 : i64} : tensor<?x3xf32>, tensor<?xi32> -> tensor<f32>
  %0 = kiln.cross_entropy %logits, %labels {ignore_index = -1} : tensor<?x3xf32>, tensor<?xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// CHECK-LABEL: func.func @masked_lm_loss
func.func @masked_lm_loss(%logits: tensor<?x?x32xf32>, %labels: tensor<?x?xi32>) -> tensor<f32> {
  // CHECK: kiln.cross_entropy %{{.*}}, %{{.*}} : tensor<?x?x32xf32>, tensor<?x?xi32> -> tensor<f32>
  %0 = kiln.cross_entropy %logits, %labels {ignore_index = -100} : tensor<?x?x32xf32>, tensor<?x?xi32> -> tensor<f32>
  return %0 : tensor<f32>
}
