// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @token_embedding
func.func @token_embedding(%ids: tensor<?x?xi32>, %t: tensor<32x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.embedding %{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<32x8xf32> -> tensor<?x?x8xf32>
  %0 = kiln.embedding %ids, %t : tensor<?x?xi32>, tensor<32x8xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @static_batch
func.func @static_batch(%ids: tensor<2x?xi32>, %t: tensor<32x8xf32>) -> tensor<2x?x8xf32> {
  // CHECK: kiln.embedding %{{.*}}, %{{.*}} : tensor<2x?xi32>, tensor<32x8xf32> -> tensor<2x?x8xf32>
  %0 = kiln.embedding %ids, %t : tensor<2x?xi32>, tensor<32x8xf32> -> tensor<2x?x8xf32>
  return %0 : tensor<2x?x8xf32>
}

// CHECK-LABEL: func.func @learned_positions
func.func @learned_positions(%ids: tensor<?x?xi32>, %t: tensor<16x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.position_embedding %{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %0 = kiln.position_embedding %ids, %t : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @learned_positions_offset
func.func @learned_positions_offset(%ids: tensor<1x1xi32>, %t: tensor<16x8xf32>) -> tensor<1x1x8xf32> {
  // CHECK: kiln.position_embedding %{{.*}}, %{{.*}} {offset = 15 : i64} : tensor<1x1xi32>, tensor<16x8xf32> -> tensor<1x1x8xf32>
  %0 = kiln.position_embedding %ids, %t {offset = 15} : tensor<1x1xi32>, tensor<16x8xf32> -> tensor<1x1x8xf32>
  return %0 : tensor<1x1x8xf32>
}

// CHECK-LABEL: func.func @sinusoidal
func.func @sinusoidal(%ids: tensor<?x?xi32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.sinusoidal_positions %{{.*}} {dim = 8 : i64} : tensor<?x?xi32> -> tensor<?x?x8xf32>
  %0 = kiln.sinusoidal_positions %ids {dim = 8, base = 10000.0} : tensor<?x?xi32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @sinusoidal_base
func.func @sinusoidal_base(%ids: tensor<?x?xi32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.sinusoidal_positions %{{.*}} {base = 5.000000e+02 : f64, dim = 8 : i64}
  %0 = kiln.sinusoidal_positions %ids {dim = 8, base = 500.0} : tensor<?x?xi32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}
