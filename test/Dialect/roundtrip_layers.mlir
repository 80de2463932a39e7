// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @layer_norm
func.func @layer_norm(%x: tensor<?x?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %0 = kiln.layer_norm %x, %g, %b {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @layer_norm_dynamic_features
func.func @layer_norm_dynamic_features(%x: tensor<4x?xf32>, %g: tensor<?xf32>) -> tensor<4x?xf32> {
  // CHECK: kiln.layer_norm %{{.*}} : tensor<4x?xf32>, tensor<?xf32>
  %0 = kiln.layer_norm %x, %g, %g {eps = 1.0e-12} : tensor<4x?xf32>, tensor<?xf32>
  return %0 : tensor<4x?xf32>
}

// CHECK-LABEL: func.func @rms_norm
func.func @rms_norm(%x: tensor<?x?x8xf32>, %g: tensor<8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.rms_norm %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %0 = kiln.rms_norm %x, %g {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @linear_bias
func.func @linear_bias(%x: tensor<?x?x8xf32>, %w: tensor<32x8xf32>, %b: tensor<32xf32>) -> tensor<?x?x32xf32> {
  // CHECK: kiln.linear %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<32x8xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
  %0 = kiln.linear %x, %w, %b : tensor<?x?x8xf32>, tensor<32x8xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
  return %0 : tensor<?x?x32xf32>
}

// CHECK-LABEL: func.func @linear_no_bias
func.func @linear_no_bias(%x: tensor<?x8xf32>, %w: tensor<3x8xf32>) -> tensor<?x3xf32> {
  // CHECK: kiln.linear %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<3x8xf32> -> tensor<?x3xf32>
  %0 = kiln.linear %x, %w : tensor<?x8xf32>, tensor<3x8xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// CHECK-LABEL: func.func @embedding_q
func.func @embedding_q(%ids: tensor<?x?xi32>, %t: tensor<32x8xi8>, %s: tensor<32xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.embedding_q %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<32x8xi8>, tensor<32xf32> -> tensor<?x?x8xf32>
  %0 = kiln.embedding_q %ids, %t, %s : tensor<?x?xi32>, tensor<32x8xi8>, tensor<32xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @linear_q
func.func @linear_q(%x: tensor<?x?x8xf32>, %w: tensor<32x8xi8>, %s: tensor<32xf32>, %b: tensor<32xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  // CHECK: kiln.linear_q %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<32x8xi8>, tensor<32xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
  %0 = kiln.linear_q %x, %w, %s, %b : tensor<?x?x8xf32>, tensor<32x8xi8>, tensor<32xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
  // CHECK: kiln.linear_q %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<32x8xi8>, tensor<32xf32> -> tensor<?x?x32xf32>
  %1 = kiln.linear_q %x, %w, %s : tensor<?x?x8xf32>, tensor<32x8xi8>, tensor<32xf32> -> tensor<?x?x32xf32>
  return %0, %1 : tensor<?x?x32xf32>, tensor<?x?x32xf32>
}
