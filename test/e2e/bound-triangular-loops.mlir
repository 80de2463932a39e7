// RUN: kiln-opt %s --split-input-file --kiln-test-bound-triangular-loops | FileCheck %s
// boundTriangularLoops (CausalAttention.cpp): an outlined generic whose yield is
// `select(key < query + limit, value, out)` becomes loops with the key loop stopped at
// query + limit and the select gone; skipping a key is leaving the output as it was. The
// contractions (an innermost d loop inside the key loop) let blocks of queries share each key row.

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

// The scores contraction S = QK^T (loops b, h, i, j, d): four queries share each key row.
// Each query's dot product is carried in registers (an iter_arg, loaded before and stored
// after the d loop) and the four d loops are one; keys only the later queries of a block see
// follow one query at a time; the last queries (count % 4) keep the plain loops.
#q = affine_map<(b, h, i, j, d) -> (b, i, h, d)>
#k = affine_map<(b, h, i, j, d) -> (b, j, h, d)>
#s = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
func.func private @scores(%q: memref<?x?x2x8xf32>, %k: memref<?x?x2x8xf32>, %o: memref<?x2x?x?xf32>, %limit: index) attributes {kiln_outlined_op} {
  linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : memref<?x?x2x8xf32>, memref<?x?x2x8xf32>) outs(%o : memref<?x2x?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %out, %m : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %end = arith.addi %i, %limit : index
    %inside = arith.cmpi ult, %j, %end : index
    %v = arith.select %inside, %s, %out : f32
    linalg.yield %v : f32
  }
  return
}
// CHECK-LABEL: func.func private @scores(
// CHECK-SAME: %[[Q:[^:]*]]: memref<?x?x2x8xf32>, %[[K:[^:]*]]: memref<?x?x2x8xf32>, %[[O:[^:]*]]: memref<?x2x?x?xf32>, %[[LIMIT:.*]]: index)
// CHECK-NOT: linalg.generic
// CHECK: %[[KEYS:.*]] = memref.dim %[[K]], %c1
// CHECK: scf.for %[[B:[^ ]*]] =
// CHECK: scf.for %[[H:[^ ]*]] =
// CHECK: %[[REM:.*]] = arith.remsi %{{.*}}, %[[C4:.*]] : index
// CHECK: %[[BLOCKED:.*]] = arith.subi %[[QUERIES:.*]], %[[REM]] : index
// CHECK: scf.for %[[I:[^ ]*]] = %{{.*}} to %[[BLOCKED]] step %[[C4]] {
// CHECK: %[[I1:.*]] = arith.addi %[[I]], %c1
// CHECK: %[[I2:.*]] = arith.addi %[[I]], %c2
// CHECK: %[[I3:.*]] = arith.addi %[[I]], %c3
// CHECK: %[[END0:.*]] = arith.addi %[[I]], %[[LIMIT]] : index
// CHECK: %[[SHARED:.*]] = arith.minsi %[[KEYS]], %[[END0]] : index
// CHECK: scf.for %[[J:[^ ]*]] = %{{.*}} to %[[SHARED]] step
// CHECK-DAG: %[[A0:.*]] = memref.load %[[O]][%[[B]], %[[H]], %[[I]], %[[J]]]
// CHECK-DAG: %[[A3:.*]] = memref.load %[[O]][%[[B]], %[[H]], %[[I3]], %[[J]]]
// CHECK: %[[DOTS:.*]]:4 = scf.for %[[D:[^ ]*]] = {{.*}} iter_args(%[[S0:.*]] = %[[A0]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %[[S3:.*]] = %[[A3]]) -> (f32, f32, f32, f32) {
// CHECK: memref.load %[[Q]][%[[B]], %[[I]], %[[H]], %[[D]]]
// CHECK: memref.load %[[K]][%[[B]], %[[J]], %[[H]], %[[D]]]
// CHECK: memref.load %[[Q]][%[[B]], %[[I3]], %[[H]], %[[D]]]
// CHECK: memref.load %[[K]][%[[B]], %[[J]], %[[H]], %[[D]]]
// CHECK-NOT: memref.store
// CHECK: scf.yield
// CHECK-DAG: memref.store %[[DOTS]]#0, %[[O]][%[[B]], %[[H]], %[[I]], %[[J]]]
// CHECK-DAG: memref.store %[[DOTS]]#3, %[[O]][%[[B]], %[[H]], %[[I3]], %[[J]]]
// The keys past the first query's bound, for queries i + 1, i + 2, i + 3:
// CHECK: %[[E1:.*]] = arith.addi %[[I1]], %[[LIMIT]] : index
// CHECK: %[[UB1:.*]] = arith.minsi %[[KEYS]], %[[E1]] : index
// CHECK: scf.for %{{.*}} = %[[SHARED]] to %[[UB1]]
// CHECK: scf.for %{{.*}} = %[[SHARED]] to
// CHECK: scf.for %{{.*}} = %[[SHARED]] to
// CHECK: scf.for %[[IR:[^ ]*]] = %[[BLOCKED]] to %[[QUERIES]] step
// CHECK: %[[ENDR:.*]] = arith.addi %[[IR]], %[[LIMIT]] : index
// CHECK: %[[UBR:.*]] = arith.minsi %[[KEYS]], %[[ENDR]] : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[UBR]] step
// CHECK: return

// -----

// P = EV (loops b, h, i, j, d, an output row per query) with a d that is not a multiple of 16:
// two queries share each value row; their rows of accumulators are updated in memory, one
// fused d loop.
#e = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
#v = affine_map<(b, h, i, j, d) -> (b, j, h, d)>
#o = affine_map<(b, h, i, j, d) -> (b, i, h, d)>
func.func private @pv(%e: memref<?x2x?x?xf32>, %v: memref<?x?x2x8xf32>, %o: memref<?x?x2x8xf32>, %limit: index) attributes {kiln_outlined_op} {
  linalg.generic {indexing_maps = [#e, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%e, %v : memref<?x2x?x?xf32>, memref<?x?x2x8xf32>) outs(%o : memref<?x?x2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %out, %m : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %end = arith.addi %i, %limit : index
    %inside = arith.cmpi ult, %j, %end : index
    %r = arith.select %inside, %s, %out : f32
    linalg.yield %r : f32
  }
  return
}
// CHECK-LABEL: func.func private @pv(
// CHECK-SAME: %[[E:[^:]*]]: memref<?x2x?x?xf32>, %[[V:[^:]*]]: memref<?x?x2x8xf32>, %[[O:[^:]*]]: memref<?x?x2x8xf32>, %[[LIMIT:.*]]: index)
// CHECK: %[[REM:.*]] = arith.remsi %{{.*}}, %[[C2:.*]] : index
// CHECK: %[[BLOCKED:.*]] = arith.subi %{{.*}}, %[[REM]] : index
// CHECK: scf.for %[[I:[^ ]*]] = %{{.*}} to %[[BLOCKED]] step %[[C2]] {
// CHECK: %[[I1:.*]] = arith.addi %[[I]], %c1
// CHECK: scf.for %[[J:[^ ]*]] =
// CHECK-NOT: iter_args
// CHECK: scf.for %[[D:[^ ]*]] =
// CHECK: memref.load %[[V]][%{{.*}}, %[[J]], %{{.*}}, %[[D]]]
// CHECK: memref.store %{{.*}}, %[[O]][%{{.*}}, %[[I]], %{{.*}}, %[[D]]]
// CHECK: memref.load %[[V]][%{{.*}}, %[[J]], %{{.*}}, %[[D]]]
// CHECK: memref.store %{{.*}}, %[[O]][%{{.*}}, %[[I1]], %{{.*}}, %[[D]]]
// CHECK: scf.for %{{.*}} = %[[BLOCKED]] to
// CHECK: return

// -----

// P = EV with d a multiple of 16: four queries share each value row, their output rows carried
// through the keys in vector registers, 16 columns (two vectors of 8) at a time.
#e = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
#v = affine_map<(b, h, i, j, d) -> (b, j, h, d)>
#o = affine_map<(b, h, i, j, d) -> (b, i, h, d)>
func.func private @pv_rows(%e: memref<?x2x?x?xf32>, %v: memref<?x?x2x32xf32>, %o: memref<?x?x2x32xf32>, %limit: index) attributes {kiln_outlined_op} {
  linalg.generic {indexing_maps = [#e, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%e, %v : memref<?x2x?x?xf32>, memref<?x?x2x32xf32>) outs(%o : memref<?x?x2x32xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %out, %m : f32
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %end = arith.addi %i, %limit : index
    %inside = arith.cmpi ult, %j, %end : index
    %r = arith.select %inside, %s, %out : f32
    linalg.yield %r : f32
  }
  return
}
// CHECK-LABEL: func.func private @pv_rows(
// CHECK-SAME: %[[E:[^:]*]]: memref<?x2x?x?xf32>, %[[V:[^:]*]]: memref<?x?x2x32xf32>, %[[O:[^:]*]]: memref<?x?x2x32xf32>, %[[LIMIT:.*]]: index)
// CHECK: %[[KEYS:.*]] = memref.dim %[[E]], %c3
// CHECK: scf.for %[[B:[^ ]*]] =
// CHECK: scf.for %[[H:[^ ]*]] =
// CHECK: %[[REM:.*]] = arith.remsi %{{.*}}, %[[C4:.*]] : index
// CHECK: %[[BLOCKED:.*]] = arith.subi %{{.*}}, %[[REM]] : index
// CHECK: scf.for %[[I:[^ ]*]] = %{{.*}} to %[[BLOCKED]] step %[[C4]] {
// CHECK: %[[I3:.*]] = arith.addi %[[I]], %c3
// CHECK: %[[END0:.*]] = arith.addi %[[I]], %[[LIMIT]] : index
// CHECK: %[[SHARED:.*]] = arith.minsi %[[KEYS]], %[[END0]] : index
// CHECK: scf.for %[[D:[^ ]*]] = %{{.*}} to %c32{{.*}} step %c16
// CHECK: %[[D8:.*]] = arith.addi %[[D]], %c8
// CHECK: %[[A0:.*]] = vector.load %[[O]][%[[B]], %[[I]], %[[H]], %[[D]]] : memref<?x?x2x32xf32>, vector<8xf32>
// CHECK-COUNT-7: vector.load %[[O]]
// CHECK: %[[ROWS:.*]]:8 = scf.for %[[J:[^ ]*]] = %{{.*}} to %[[SHARED]] step %{{.*}} iter_args(%[[ACC0:[^ ]*]] = %[[A0]],
// CHECK: %[[V0:.*]] = vector.load %[[V]][%[[B]], %[[J]], %[[H]], %[[D]]]
// CHECK: %[[V1:.*]] = vector.load %[[V]][%[[B]], %[[J]], %[[H]], %[[D8]]]
// CHECK: %[[W0:.*]] = memref.load %[[E]][%[[B]], %[[H]], %[[I]], %[[J]]]
// CHECK: %[[S0:.*]] = vector.broadcast %[[W0]] : f32 to vector<8xf32>
// CHECK: vector.fma %[[S0]], %[[V0]], %[[ACC0]] : vector<8xf32>
// CHECK: vector.fma %[[S0]], %[[V1]],
// CHECK-COUNT-3: vector.broadcast
// CHECK: scf.yield
// CHECK: vector.store %[[ROWS]]#0, %[[O]][%[[B]], %[[I]], %[[H]], %[[D]]]
// CHECK-COUNT-7: vector.store
// The keys past the first query's bound, one query at a time, plain loops:
// CHECK: scf.for %{{.*}} = %[[SHARED]] to
// CHECK-NOT: vector.
// CHECK: scf.for %{{.*}} = %[[BLOCKED]] to
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
