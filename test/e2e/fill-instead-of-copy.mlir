// RUN: kiln-opt %s --split-input-file --kiln-test-fill-instead-of-copy | FileCheck %s
// fillInsteadOfCopy (CopiesOfFills.cpp): bufferization gives each use of one shared zero fill
// a copy of it; a copy of a buffer that holds nothing but a fill becomes that fill.

func.func @shared_fill(%n: index, %a: memref<?x8xf32>, %w: memref<8x8xf32>) -> (memref<?x8xf32>, memref<?x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %filled = memref.alloc(%n) : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%filled : memref<?x8xf32>)
  %c1 = memref.alloc(%n) : memref<?x8xf32>
  linalg.copy ins(%filled : memref<?x8xf32>) outs(%c1 : memref<?x8xf32>)
  linalg.matmul ins(%a, %w : memref<?x8xf32>, memref<8x8xf32>) outs(%c1 : memref<?x8xf32>)
  %c2 = memref.alloc(%n) : memref<?x8xf32>
  linalg.copy ins(%filled : memref<?x8xf32>) outs(%c2 : memref<?x8xf32>)
  linalg.matmul ins(%a, %w : memref<?x8xf32>, memref<8x8xf32>) outs(%c2 : memref<?x8xf32>)
  linalg.matmul ins(%a, %w : memref<?x8xf32>, memref<8x8xf32>) outs(%filled : memref<?x8xf32>)
  return %c1, %c2 : memref<?x8xf32>, memref<?x8xf32>
}
// CHECK-LABEL: func.func @shared_fill(
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILLED:.*]] = memref.alloc
// CHECK: linalg.fill ins(%[[ZERO]] : f32) outs(%[[FILLED]] :
// CHECK: %[[C1:.*]] = memref.alloc
// CHECK-NEXT: linalg.fill ins(%[[ZERO]] : f32) outs(%[[C1]] :
// CHECK-NEXT: linalg.matmul
// CHECK: %[[C2:.*]] = memref.alloc
// CHECK-NEXT: linalg.fill ins(%[[ZERO]] : f32) outs(%[[C2]] :
// CHECK-NOT: linalg.copy
// CHECK: return

// -----

// Written after the fill and before the copy: the copy stays.
func.func @written_between(%n: index, %a: memref<?x8xf32>, %w: memref<8x8xf32>) -> memref<?x8xf32> {
  %zero = arith.constant 0.0 : f32
  %filled = memref.alloc(%n) : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%filled : memref<?x8xf32>)
  linalg.matmul ins(%a, %w : memref<?x8xf32>, memref<8x8xf32>) outs(%filled : memref<?x8xf32>)
  %c = memref.alloc(%n) : memref<?x8xf32>
  linalg.copy ins(%filled : memref<?x8xf32>) outs(%c : memref<?x8xf32>)
  return %c : memref<?x8xf32>
}
// CHECK-LABEL: func.func @written_between(
// CHECK: linalg.copy

// -----

// Not filled at all (an argument), or filled through a view: the copies stay.
func.func @not_a_fill(%n: index, %b: memref<?x8xf32>) -> (memref<?x8xf32>, memref<?x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc(%n) : memref<?x8xf32>
  linalg.copy ins(%b : memref<?x8xf32>) outs(%c : memref<?x8xf32>)
  %filled = memref.alloc(%n) : memref<?x8xf32>
  %view = memref.cast %filled : memref<?x8xf32> to memref<?x?xf32>
  linalg.fill ins(%zero : f32) outs(%view : memref<?x?xf32>)
  %d = memref.alloc(%n) : memref<?x8xf32>
  linalg.copy ins(%filled : memref<?x8xf32>) outs(%d : memref<?x8xf32>)
  return %c, %d : memref<?x8xf32>, memref<?x8xf32>
}
// CHECK-LABEL: func.func @not_a_fill(
// CHECK: linalg.copy
// CHECK: linalg.copy
