// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @rotary
func.func @rotary(%x: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  // CHECK: kiln.rotary %{{.*}} {head_dim = 4 : i64, num_heads = 4 : i64} : tensor<?x?x16xf32>
  %0 = kiln.rotary %x {num_heads = 4, head_dim = 4, theta = 10000.0, offset = 0} : tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @rotary_theta_offset
func.func @rotary_theta_offset(%x: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  // CHECK: kiln.rotary %{{.*}} {head_dim = 8 : i64, num_heads = 2 : i64, offset = 7 : i64, theta = 5.000000e+05 : f64}
  %0 = kiln.rotary %x {num_heads = 2, head_dim = 8, theta = 500000.0, offset = 7} : tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @self_attention_causal
func.func @self_attention_causal(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  // CHECK: kiln.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 5.000000e-01 : f64} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %0 = kiln.attention %q, %k, %v {num_heads = 4, num_kv_heads = 4, head_dim = 4, causal, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @grouped_query_padding_mask
func.func @grouped_query_padding_mask(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x8xf32>, %m: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  // CHECK: kiln.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x?xi32>) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64
  %0 = kiln.attention %q, %kv, %kv mask(%m : tensor<?x?xi32>) {num_heads = 4, num_kv_heads = 2, head_dim = 4, scale = 0.5} : tensor<?x?x16xf32>, tensor<?x?x8xf32>
  return %0 : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @multi_query
func.func @multi_query(%q: tensor<2x3x16xf32>, %kv: tensor<2x5x4xf32>) -> tensor<2x3x16xf32> {
  // CHECK: kiln.attention {{.*}}num_kv_heads = 1 : i64{{.*}} : tensor<2x3x16xf32>, tensor<2x5x4xf32>
  %0 = kiln.attention %q, %kv, %kv {num_heads = 4, num_kv_heads = 1, head_dim = 4, scale = 0.5} : tensor<2x3x16xf32>, tensor<2x5x4xf32>
  return %0 : tensor<2x3x16xf32>
}

// CHECK-LABEL: func.func @cross_attention_relative_bias
func.func @cross_attention_relative_bias(%q: tensor<?x?x16xf32>, %kv: tensor<?x?x16xf32>, %m: tensor<?x?xi32>, %t: tensor<32x4xf32>) -> tensor<?x?x16xf32> {
  // CHECK: %[[B:.*]] = kiln.relative_position_bias %{{.*}}, %{{.*}}, %{{.*}} {max_distance = 128 : i64, num_buckets = 32 : i64, num_heads = 4 : i64} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<32x4xf32> -> tensor<4x?x?xf32>
  %b = kiln.relative_position_bias %q, %kv, %t {num_buckets = 32, max_distance = 128, num_heads = 4} : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<32x4xf32> -> tensor<4x?x?xf32>
  // CHECK: kiln.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x?xi32>) bias(%[[B]] : tensor<4x?x?xf32>) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 1.000000e+00 : f64}
  %0 = kiln.attention %q, %kv, %kv mask(%m : tensor<?x?xi32>) bias(%b : tensor<4x?x?xf32>) {num_heads = 4, num_kv_heads = 4, head_dim = 4, scale = 1.0} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @relative_bias_bidirectional
func.func @relative_bias_bidirectional(%q: tensor<2x7x16xf32>, %k: tensor<2x9x16xf32>, %t: tensor<32x4xf32>) -> tensor<4x7x9xf32> {
  // CHECK: kiln.relative_position_bias {{.*}} {bidirectional, {{.*}} -> tensor<4x7x9xf32>
  %0 = kiln.relative_position_bias %q, %k, %t {num_buckets = 32, max_distance = 128, bidirectional, num_heads = 4} : tensor<2x7x16xf32>, tensor<2x9x16xf32>, tensor<32x4xf32> -> tensor<4x7x9xf32>
  return %0 : tensor<4x7x9xf32>
}

// Queries placed at a run-time position: a decoder's new tokens against its cached keys.
// CHECK-LABEL: func.func @relative_bias_position
func.func @relative_bias_position(%q: tensor<1x1x16xf32>, %k: tensor<1x12x16xf32>, %t: tensor<32x4xf32>, %p: tensor<1xi32>) -> tensor<4x1x12xf32> {
  // CHECK: kiln.relative_position_bias %{{.*}}, %{{.*}}, %{{.*}} position(%{{.*}} : tensor<1xi32>) {max_distance = 128 : i64, num_buckets = 32 : i64, num_heads = 4 : i64} : tensor<1x1x16xf32>, tensor<1x12x16xf32>, tensor<32x4xf32> -> tensor<4x1x12xf32>
  %0 = kiln.relative_position_bias %q, %k, %t position(%p : tensor<1xi32>) {num_buckets = 32, max_distance = 128, num_heads = 4} : tensor<1x1x16xf32>, tensor<1x12x16xf32>, tensor<32x4xf32> -> tensor<4x1x12xf32>
  return %0 : tensor<4x1x12xf32>
}
