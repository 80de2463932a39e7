// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @residual
func.func @residual(%x: tensor<?x?x8xf32>, %y: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.add %{{.*}}, %{{.*}} : tensor<?x?x8xf32>
  %0 = kiln.add %x, %y : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @gate
func.func @gate(%x: tensor<?x?x8xf32>, %y: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.mul %{{.*}}, %{{.*}} : tensor<?x?x8xf32>
  %0 = kiln.mul %x, %y : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @scale
func.func @scale(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.scale %{{.*}} {factor = 1.250000e-01 : f64} : tensor<?x?x8xf32>
  %0 = kiln.scale %x {factor = 0.125} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @activations
func.func @activations(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.activation gelu %{{.*}} : tensor<?x?x8xf32>
  %0 = kiln.activation gelu %x : tensor<?x?x8xf32>
  // CHECK: kiln.activation gelu_tanh %{{.*}} : tensor<?x?x8xf32>
  %1 = kiln.activation gelu_tanh %0 : tensor<?x?x8xf32>
  // CHECK: kiln.activation relu %{{.*}} : tensor<?x?x8xf32>
  %2 = kiln.activation relu %1 : tensor<?x?x8xf32>
  // CHECK: kiln.activation silu %{{.*}} : tensor<?x?x8xf32>
  %3 = kiln.activation silu %2 : tensor<?x?x8xf32>
  // CHECK: kiln.activation tanh %{{.*}} : tensor<?x?x8xf32>
  %4 = kiln.activation tanh %3 : tensor<?x?x8xf32>
  return %4 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @dropout
func.func @dropout(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.dropout %{{.*}} {rate = 1.000000e-01 : f64} : tensor<?x?x8xf32>
  %0 = kiln.dropout %x {rate = 0.1} : tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}
