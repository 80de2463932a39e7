// RUN: kiln-opt %s --split-input-file --kiln-test-bound-triangular-loops | FileCheck %s
// boundTriangularLoops (CausalAttention.cpp): an outlined generic whose yield is
// `select(key < query + limit, value, out)` becomes loops with the key loop stopped at
// query + limit and the select gone; skipping a key is leaving the output as it was.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func private @rowsum(%e: memref<?x?xf32>, %z: memref<?xf32>, %limit: index) attributes {kiln_outlined_op} {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%e : memref<?x?xf32>) outs(%z : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %end = arith.addi %i, %limit : index
    %inside = arith.cmpi ult, %j, %end : index
    %v = arith.select %inside, %s, %out : f32
    linalg.yield %v : f32
  }
  return
}
// CHECK-LABEL: func.func private @rowsum(
// CHECK-SAME: %[[E:.*]]: memref<?x?xf32>, %[[Z:.*]]: memref<?xf32>, %[[LIMIT:.*]]: index)
// CHECK-NOT: linalg.generic
// CHECK: %[[KEYS:.*]] = memref.dim %[[E]], %c1
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[END:.*]] = arith.addi %[[I]], %[[LIMIT]] : index
// CHECK: %[[UB:.*]] = arith.minsi %[[KEYS]], %[[END]] : index
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %[[UB]] step
// CHECK: %[[X:.*]] = memref.load %[[E]]
// CHECK: %[[ACC:.*]] = memref.load %[[Z]]
// CHECK: %[[S:.*]] = arith.addf %[[X]], %[[ACC]] : f32
// CHECK-NOT: arith.select
// CHECK: memref.store %[[S]], %[[Z]]
// CHECK: return

// -----

// Not an outlined op, a constant instead of `out`, the key loop outside the query loop:
// each stays a generic.
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func private @not_outlined(%e: memref<?x?xf32>, %o: memref<?x?xf32>, %limit: index) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%e : memref<?x?xf32>) outs(%o : memref<?x?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %end = arith.addi %i, %limit : index
    %inside = arith.cmpi ult, %j, %end : index
    %v = arith.select %inside, %in, %out : f32
    linalg.yield %v : f32
  }
  return
}
func.func private @constant_outside(%e: memref<?x?xf32>, %o: memref<?x?xf32>, %limit: index) attributes {kiln_outlined_op} {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%e : memref<?x?xf32>) outs(%o : memref<?x?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %end = arith.addi %i, %limit : index
    %inside = arith.cmpi ult, %j, %end : index
    %v = arith.select %inside, %in, %zero : f32
    linalg.yield %v : f32
  }
  return
}
func.func private @key_loop_outside(%e: memref<?x?xf32>, %o: memref<?x?xf32>, %limit: index) attributes {kiln_outlined_op} {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%e : memref<?x?xf32>) outs(%o : memref<?x?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %i = linalg.index 1 : index
    %j = linalg.index 0 : index
    %end = arith.addi %i, %limit : index
    %inside = arith.cmpi ult, %j, %end : index
    %v = arith.select %inside, %in, %out : f32
    linalg.yield %v : f32
  }
  return
}
// CHECK-LABEL: func.func private @not_outlined(
// CHECK: linalg.generic
// CHECK: arith.select
// CHECK-LABEL: func.func private @constant_outside(
// CHECK: linalg.generic
// CHECK: arith.select
// CHECK-LABEL: func.func private @key_loop_outside(
// CHECK: linalg.generic
// CHECK: arith.select
