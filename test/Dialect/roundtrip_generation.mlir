// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// RUN: kiln-opt %s --mlir-print-op-generic | kiln-opt | FileCheck %s
//
// The generation ops: run-time position operands and the KV cache append.

// CHECK-LABEL: func.func @position_operand
func.func @position_operand(%ids: tensor<?x?xi32>, %t: tensor<16x8xf32>, %p: tensor<1xi32>) -> tensor<?x?x8xf32> {
  // CHECK: kiln.position_embedding %{{.*}}, %{{.*}} position(%{{.*}} : tensor<1xi32>) : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %0 = kiln.position_embedding %ids, %t position(%p : tensor<1xi32>) : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @rotary_position
func.func @rotary_position(%x: tensor<?x1x16xf32>, %p: tensor<1xi32>) -> tensor<?x1x16xf32> {
  // CHECK: kiln.rotary %{{.*}} position(%{{.*}} : tensor<1xi32>) {head_dim = 8 : i64, num_heads = 2 : i64} : tensor<?x1x16xf32>
  %0 = kiln.rotary %x position(%p : tensor<1xi32>) {num_heads = 2, head_dim = 8} : tensor<?x1x16xf32>
  return %0 : tensor<?x1x16xf32>
}

// CHECK-LABEL: func.func @cache_append
func.func @cache_append(%k: tensor<?x?x16xf32>, %cache: tensor<2x?x32x16xf32>, %p: tensor<1xi32>)
    -> (tensor<2x?x32x16xf32>, tensor<?x?x16xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = kiln.kv_cache_append %{{.*}} into %{{.*}}[1] at %{{.*}} : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
  %c, %prefix = kiln.kv_cache_append %k into %cache[1] at %p : tensor<?x?x16xf32> into tensor<2x?x32x16xf32>, tensor<1xi32> -> tensor<?x?x16xf32>
  return %c, %prefix : tensor<2x?x32x16xf32>, tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @state_attrs
// CHECK-SAME: kiln.state = "cache_k"
func.func @state_attrs(%cache: tensor<2x?x32x16xf32> {kiln.state = "cache_k", kiln.dims = ["batch"]})
    -> (tensor<2x?x32x16xf32> {kiln.state = "cache_k"}) {
  return %cache : tensor<2x?x32x16xf32>
}
