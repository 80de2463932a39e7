// RUN: kiln-opt %s --split-input-file --canonicalize | FileCheck %s

// First-token pooling ignores the mask: it is dropped.
// CHECK-LABEL: func.func @pool_first_drops_mask
// CHECK: kiln.pool first %{{[^ ]*}} : tensor<?x?x8xf32> -> tensor<?x8xf32>
func.func @pool_first_drops_mask(%x: tensor<?x?x8xf32>, %m: tensor<?x?xi32>) -> tensor<?x8xf32> {
  %0 = kiln.pool first %x mask(%m : tensor<?x?xi32>) : tensor<?x?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Mean pooling needs its mask.
// CHECK-LABEL: func.func @no_drop_pool_mean_mask
// CHECK: kiln.pool mean %{{.*}} mask(%{{.*}} : tensor<?x?xi32>)
func.func @no_drop_pool_mean_mask(%x: tensor<?x?x8xf32>, %m: tensor<?x?xi32>) -> tensor<?x8xf32> {
  %0 = kiln.pool mean %x mask(%m : tensor<?x?xi32>) : tensor<?x?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
