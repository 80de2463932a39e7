// RUN: kiln-opt %s --kiln-test-mark-distinct-arguments | FileCheck %s
// RUN: kilnc %S/emit-llvm-threaded-ops.kiln --emit=llvm | FileCheck %s --check-prefix=LLVM
// markDistinctArguments (DistinctArguments.cpp): an outlined op's argument that at every call
// is a view of an allocation no other argument of that call shares is recorded by the slot of
// its descriptor's aligned pointer (5 slots per rank-1 memref: allocated, aligned, offset,
// size, stride); the entry point's own arguments never are. After the lowering to LLVM those
// pointers are `noalias`.

// x is fresh, w the entry point's, the output a view of a fresh y: slots 1 and 11.
func.func private @op(%a: memref<?xf32>, %b: memref<?xf32>, %c: memref<?xf32, strided<[1], offset: ?>>) attributes {kiln_outlined_op} {
  return
}
// In place (the output is an input) at one of two calls: nothing.
func.func private @in_place(%a: memref<?xf32>, %b: memref<?xf32>) attributes {kiln_outlined_op} {
  return
}
// Its first argument is the state (an entry point argument) at the second call: only the
// second argument, fresh at both.
func.func private @state(%a: memref<?xf32>, %b: memref<?xf32>) attributes {kiln_outlined_op} {
  return
}
// Takes its buffers' addresses (as a matmul handing them to its chunk dispatches): left alone.
func.func private @address(%a: memref<?xf32>, %b: memref<?xf32>) attributes {kiln_outlined_op} {
  %p = memref.extract_aligned_pointer_as_index %a : memref<?xf32> -> index
  return
}
func.func @entry(%n: index, %m: index, %w: memref<?xf32>, %state: memref<?xf32>) {
  %x = memref.alloc(%n) : memref<?xf32>
  %y = memref.alloc(%n) : memref<?xf32>
  %v = memref.subview %y[%m] [%m] [1] : memref<?xf32> to memref<?xf32, strided<[1], offset: ?>>
  call @op(%x, %w, %v) : (memref<?xf32>, memref<?xf32>, memref<?xf32, strided<[1], offset: ?>>) -> ()
  call @in_place(%x, %y) : (memref<?xf32>, memref<?xf32>) -> ()
  %c = memref.cast %x : memref<?xf32> to memref<?xf32>
  call @in_place(%x, %c) : (memref<?xf32>, memref<?xf32>) -> ()
  call @state(%y, %x) : (memref<?xf32>, memref<?xf32>) -> ()
  call @state(%state, %x) : (memref<?xf32>, memref<?xf32>) -> ()
  call @address(%x, %y) : (memref<?xf32>, memref<?xf32>) -> ()
  return
}
// CHECK-LABEL: func.func private @op(
// CHECK-SAME: kiln_distinct_slots = array<i64: 1, 11>
// CHECK-LABEL: func.func private @in_place(
// CHECK-NOT: kiln_distinct_slots
// CHECK-LABEL: func.func private @state(
// CHECK-SAME: kiln_distinct_slots = array<i64: 6>
// CHECK-LABEL: func.func private @address(
// CHECK-NOT: kiln_distinct_slots
// CHECK-LABEL: func.func @entry(

// LLVM: llvm.func @kiln_entry_forward_op_{{[0-9]+}}({{.*}}: !llvm.ptr {llvm.noalias}
// LLVM-NOT: kiln_distinct_slots
