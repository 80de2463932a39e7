// RUN: kiln-opt %s --split-input-file --kiln-lower-to-linalg | FileCheck %s

// Bidirectional: 16 buckets per direction, 8 exact, log-spaced up to max_distance 128.
// CHECK-LABEL: func.func @bidirectional
// CHECK-SAME: %[[T:[^:]*]]: tensor<32x4xf32>
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<4x?x?xf32>
// CHECK: linalg.generic {{.*}} outs(%[[E]] : tensor<4x?x?xf32>)
// CHECK: %[[REL:.*]] = arith.subi %{{.*}}, %{{.*}} : i64
// CHECK: arith.cmpi sgt, %[[REL]]
// CHECK: arith.constant 16 : i64
// CHECK: arith.constant 8 : i64
// CHECK: math.log
// CHECK: arith.fptosi
// CHECK: arith.minsi
// CHECK: tensor.extract %[[T]]
func.func @bidirectional(%q: tensor<?x?x8xf32>, %k: tensor<?x?x8xf32>, %t: tensor<32x4xf32>) -> tensor<4x?x?xf32> {
  %0 = kiln.relative_position_bias %q, %k, %t {num_buckets = 32, max_distance = 128, bidirectional, num_heads = 4} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<32x4xf32> -> tensor<4x?x?xf32>
  return %0 : tensor<4x?x?xf32>
}

// -----

// Unidirectional (decoder): only past positions get distinct buckets.
// CHECK-LABEL: func.func @unidirectional
// CHECK-NOT: arith.cmpi sgt
// CHECK: arith.maxsi
// CHECK: tensor.extract
func.func @unidirectional(%q: tensor<?x?x8xf32>, %t: tensor<32x4xf32>) -> tensor<4x?x?xf32> {
  %0 = kiln.relative_position_bias %q, %q, %t {num_buckets = 32, max_distance = 128, num_heads = 4} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<32x4xf32> -> tensor<4x?x?xf32>
  return %0 : tensor<4x?x?xf32>
}
