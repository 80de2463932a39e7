// kiln-outline-buffer-ops: each linalg op on buffers of a public function moves into a private
// function of its own (its operands, then the non-constant values its body reads from above,
// each distinct value once; constants are copied in) and is called in its place; identical
// outlined functions (two layers) are merged into the first. Other ops stay where they are.
// RUN: kiln-opt %s --split-input-file --kiln-outline-buffer-ops | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>

// Two "layers" of bias + scale over dynamic rows: one function for both; the copy of the
// first layer's result is its own function; the causal-style generic reads a loaded scalar
// (an argument) and a constant (copied in).
// CHECK-LABEL: func.func @layers(
// CHECK-SAME: %[[X:.*]]: memref<?x8xf32>, %[[B0:.*]]: memref<8xf32>, %[[B1:.*]]: memref<8xf32>, %[[P:.*]]: memref<1xi32>, %[[Y:.*]]: memref<?x8xf32>)
// CHECK: %[[T:.*]] = memref.alloc
// CHECK-NEXT: call @layers_op_0(%[[X]], %[[B0]], %[[T]]) : (memref<?x8xf32>, memref<8xf32>, memref<?x8xf32>) -> ()
// CHECK-NEXT: call @layers_op_0(%[[T]], %[[B1]], %[[Y]])
// CHECK-NEXT: call @layers_op_2(%[[Y]], %[[T]])
// CHECK-NEXT: %[[V:.*]] = memref.load %[[P]]
// CHECK-NEXT: call @layers_op_3(%[[T]], %[[V]]) : (memref<?x8xf32>, i32) -> ()
// CHECK-NEXT: memref.dealloc %[[T]]
// CHECK-NEXT: return
// CHECK: func.func private @layers_op_0(%{{.*}}: memref<?x8xf32>, %{{.*}}: memref<8xf32>, %{{.*}}: memref<?x8xf32>) attributes {kiln_outlined_op, passthrough = ["noinline"]}
// CHECK-NEXT: %[[C2:.*]] = arith.constant 2.0
// CHECK-NEXT: linalg.generic
// CHECK: arith.mulf %{{.*}}, %[[C2]]
// CHECK: return
// CHECK-NOT: @layers_op_1(
// CHECK: func.func private @layers_op_2(%{{.*}}: memref<?x8xf32>, %{{.*}}: memref<?x8xf32>)
// CHECK-NEXT: linalg.copy
// CHECK: func.func private @layers_op_3(%{{.*}}: memref<?x8xf32>, %{{.*}}: i32)
// CHECK-NEXT: arith.constant 0xFF800000
// CHECK-NEXT: linalg.generic
func.func @layers(%x: memref<?x8xf32>, %b0: memref<8xf32>, %b1: memref<8xf32>, %p: memref<1xi32>, %y: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %two = arith.constant 2.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %t = memref.alloc(%n) : memref<?x8xf32>
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b0 : memref<?x8xf32>, memref<8xf32>) outs(%t : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %m = arith.mulf %s, %two : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%t, %b1 : memref<?x8xf32>, memref<8xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %m = arith.mulf %s, %two : f32
    linalg.yield %m : f32
  }
  linalg.copy ins(%y : memref<?x8xf32>) outs(%t : memref<?x8xf32>)
  %pos = memref.load %p[%c0] : memref<1xi32>
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%t : memref<?x8xf32>) {
  ^bb0(%o: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %hide = arith.cmpi sgt, %ji, %pos : i32
    %r = arith.select %hide, %ninf, %o : f32
    linalg.yield %r : f32
  }
  memref.dealloc %t : memref<?x8xf32>
  return
}

// -----

// A buffer read and written by one op is one argument. A different shape is a different
// function; so is a different body. Ops inside a loop are left in place.
// CHECK-LABEL: func.func @apart(
// CHECK-SAME: %[[A:.*]]: memref<4x8xf32>, %[[B:.*]]: memref<4x16xf32>
// CHECK-NEXT: call @apart_op_0(%[[A]]) : (memref<4x8xf32>) -> ()
// CHECK-NEXT: call @apart_op_1(%[[B]]) : (memref<4x16xf32>) -> ()
// CHECK-NEXT: call @apart_op_2(%[[A]]) : (memref<4x8xf32>) -> ()
// CHECK: scf.for
// CHECK-NEXT: linalg.generic
// CHECK: func.func private @apart_op_0(%[[S:.*]]: memref<4x8xf32>)
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[S]] : memref<4x8xf32>) outs(%[[S]] : memref<4x8xf32>)
// CHECK: arith.addf
// CHECK: func.func private @apart_op_1(
// CHECK: arith.addf
// CHECK: func.func private @apart_op_2(
// CHECK: arith.mulf
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @apart(%a: memref<4x8xf32>, %b: memref<4x16xf32>) {
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<4x8xf32>) outs(%a : memref<4x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = arith.addf %x, %x : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%b : memref<4x16xf32>) outs(%b : memref<4x16xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = arith.addf %x, %x : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<4x8xf32>) outs(%a : memref<4x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = arith.mulf %x, %x : f32
    linalg.yield %s : f32
  }
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.for %i = %c0 to %c2 step %c1 {
    linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
        ins(%a : memref<4x8xf32>) outs(%a : memref<4x8xf32>) {
    ^bb0(%x: f32, %o: f32):
      %s = arith.addf %x, %x : f32
      linalg.yield %s : f32
    }
  }
  return
}

// -----

// Private functions are not entry points: left alone.
// CHECK-LABEL: func.func private @helper
// CHECK-NEXT: linalg.copy
// CHECK-NOT: kiln_outlined_op
func.func private @helper(%a: memref<4xf32>, %b: memref<4xf32>) {
  linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  return
}
