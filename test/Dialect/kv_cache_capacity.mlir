// The static-capacity form of kiln.kv_cache_append (prefix = the layer's whole cache) and the
// position-aware causal attention that reads it: round trip, inferred types, diagnostics.
// RUN: kiln-opt %s --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @capacity_form
// CHECK: %{{.*}}, %[[K:.*]] = kiln.kv_cache_append %{{.*}} into %{{.*}}[1] at %[[P:.*]] capacity : tensor<1x4x16xf32> into tensor<2x1x32x16xf32>, tensor<1xi32> -> tensor<1x32x16xf32>
// CHECK: kiln.attention %{{.*}}, %[[K]], %[[K]] position(%[[P]] : tensor<1xi32>) {causal
func.func @capacity_form(%q: tensor<1x4x32xf32>, %k: tensor<1x4x16xf32>, %cache: tensor<2x1x32x16xf32>,
                         %p: tensor<1xi32>) -> (tensor<1x4x32xf32>, tensor<2x1x32x16xf32>) {
  %c, %keys = kiln.kv_cache_append %k into %cache[1] at %p capacity : tensor<1x4x16xf32> into tensor<2x1x32x16xf32>, tensor<1xi32> -> tensor<1x32x16xf32>
  %o = kiln.attention %q, %keys, %keys position(%p : tensor<1xi32>) {causal, head_dim = 8 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.35 : f64} : tensor<1x4x32xf32>, tensor<1x32x16xf32>
  return %o, %c : tensor<1x4x32xf32>, tensor<2x1x32x16xf32>
}

// -----

// Inferred types: the dynamic form keeps a dynamic prefix length, and a
// dynamic-batch cache takes the batch from the rows.
// CHECK-LABEL: func.func @dynamic_form
// CHECK: kiln.kv_cache_append %{{.*}} into %{{.*}}[0] at %{{.*}} : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
func.func @dynamic_form(%k: tensor<?x?x16xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>) -> tensor<?x?x16xf32> {
  %c, %keys = kiln.kv_cache_append %k into %cache[0] at %p : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
  return %keys : tensor<?x?x16xf32>
}

// -----

func.func @capacity_wrong_length(%k: tensor<1x4x16xf32>, %cache: tensor<2x1x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_infer
  // expected-error @+1 {{'kiln.kv_cache_append' op prefix type 'tensor<1x8x16xf32>' differs from the inferred 'tensor<1x32x16xf32>'}}
  %c, %keys = kiln.kv_cache_append %k into %cache[1] at %p capacity : tensor<1x4x16xf32> into tensor<2x1x32x16xf32>, tensor<1xi32> -> tensor<1x8x16xf32>
  return
}

// -----

func.func @capacity_dynamic_prefix(%k: tensor<1x4x16xf32>, %cache: tensor<2x1x32x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_infer
  // expected-error @+1 {{'kiln.kv_cache_append' op prefix type 'tensor<1x?x16xf32>' differs from the inferred 'tensor<1x32x16xf32>'}}
  %c, %keys = kiln.kv_cache_append %k into %cache[1] at %p capacity : tensor<1x4x16xf32> into tensor<2x1x32x16xf32>, tensor<1xi32> -> tensor<1x?x16xf32>
  return
}

// -----

func.func @capacity_needs_static_capacity(%k: tensor<1x4x16xf32>, %cache: tensor<2x1x?x16xf32>, %p: tensor<1xi32>) {
  // kv_cache_append_c8
  // expected-error @+1 {{'kiln.kv_cache_append' op 'capacity' needs a cache of static capacity, got 'tensor<2x1x?x16xf32>'}}
  %c, %keys = kiln.kv_cache_append %k into %cache[1] at %p capacity : tensor<1x4x16xf32> into tensor<2x1x?x16xf32>, tensor<1xi32> -> tensor<1x?x16xf32>
  return
}

// -----

func.func @position_needs_causal(%q: tensor<1x4x32xf32>, %k: tensor<1x32x16xf32>, %p: tensor<1xi32>) {
  // attention_c10
  // expected-error @+1 {{'kiln.attention' op 'position' places causal queries; it needs 'causal'}}
  %o = kiln.attention %q, %k, %k position(%p : tensor<1xi32>) {head_dim = 8 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.35 : f64} : tensor<1x4x32xf32>, tensor<1x32x16xf32>
  return
}
