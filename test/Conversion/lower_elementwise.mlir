// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @add
// CHECK-SAME: (%[[A:.*]]: tensor<?x8xf32>, %[[B:.*]]: tensor<?x8xf32>)
// CHECK: %[[D:.*]] = tensor.dim %[[A]], %{{.*}} : tensor<?x8xf32>
// CHECK: %[[E:.*]] = tensor.empty(%[[D]]) : tensor<?x8xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%[[A]], %[[B]] : {{.*}}) outs(%[[E]] : tensor<?x8xf32>)
// CHECK: arith.addf
// CHECK-NOT: kiln.
func.func @add(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.add %a, %b : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @mul_scale
// CHECK: linalg.generic
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: %[[F:.*]] = arith.constant 2.500000e-01 : f32
// CHECK: linalg.generic
// CHECK: arith.mulf %{{.*}}, %[[F]] : f32
func.func @mul_scale(%a: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.mul %a, %a : tensor<?x8xf32>
  %1 = kiln.scale %0 {factor = 0.25} : tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// -----

// Inference semantics: dropout is the identity.
// CHECK-LABEL: func.func @dropout
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NEXT: return %[[X]]
func.func @dropout(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.dropout %x {rate = 0.1} : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @gelu
// CHECK: linalg.generic
// CHECK: arith.constant 0.707106769 : f32
// CHECK: math.erf
// CHECK-NOT: math.tanh
func.func @gelu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.activation gelu %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @gelu_tanh
// CHECK: arith.constant 4.471500e-02 : f32
// CHECK: arith.constant 0.797884583 : f32
// CHECK: math.tanh
// CHECK-NOT: math.erf
func.func @gelu_tanh(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.activation gelu_tanh %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @relu
// CHECK: arith.maximumf
func.func @relu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.activation relu %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @silu
// CHECK: %[[N:.*]] = arith.negf
// CHECK: %[[E:.*]] = math.exp %[[N]]
// CHECK: %[[D:.*]] = arith.addf %[[E]]
// CHECK: arith.divf %{{.*}}, %[[D]]
func.func @silu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.activation silu %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @tanh
// CHECK: math.tanh
func.func @tanh(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = kiln.activation tanh %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
