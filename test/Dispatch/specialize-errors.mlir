// Every specialization error names the entry point and the dimension.
// RUN: not kiln-opt %s --kiln-specialize-shapes="entry=f dims=batch=2" 2>&1 | FileCheck %s --check-prefix=UNBOUND
// RUN: not kiln-opt %s --kiln-specialize-shapes="entry=f dims=batch=2,seq=3,beam=4" 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not kiln-opt %s --kiln-specialize-shapes="entry=f dims=batch=0,seq=3" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not kiln-opt %s --kiln-specialize-shapes="entry=f dims=batch,seq=3" 2>&1 | FileCheck %s --check-prefix=SYNTAX
// RUN: not kiln-opt %s --kiln-specialize-shapes="entry=f dims=batch=1,batch=2" 2>&1 | FileCheck %s --check-prefix=TWICE
// RUN: not kiln-opt %s --kiln-specialize-shapes="entry=g dims=batch=1" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not kiln-opt %s --kiln-specialize-shapes="entry=h dims=batch=1,seq=2" 2>&1 | FileCheck %s --check-prefix=CALL

// UNBOUND: specialize-errors.mlir:[[@LINE+6]]:1: error: dimension 'seq' of entry point 'f' has no size (dims=seq=N)
// UNKNOWN: error: 'beam' is not a dynamic dimension of entry point 'f' (its dimensions: batch, seq)
// ZERO: error: dimension 'batch' must have a positive size, got 0
// SYNTAX: error: kiln-specialize-shapes: expected name=size in dims, got 'batch'
// TWICE: error: kiln-specialize-shapes: dimension 'batch' given twice
// MISSING: error: kiln-specialize-shapes: no function 'g'
func.func @f(%x: tensor<?x?x4xf32> {kiln.dims = ["batch", "seq"], kiln.input = "x"})
    -> (tensor<?x?x4xf32> {kiln.dims = ["batch", "seq"], kiln.output = "y"}) {
  %y = kiln.activation gelu %x : tensor<?x?x4xf32>
  return %y : tensor<?x?x4xf32>
}

// CALL: specialize-errors.mlir:[[@LINE+3]]:8: error: cannot specialize through a call; inline the callee first
func.func @h(%x: tensor<?x?x4xf32> {kiln.dims = ["batch", "seq"], kiln.input = "x"})
    -> (tensor<?x?x4xf32> {kiln.dims = ["batch", "seq"], kiln.output = "y"}) {
  %y = call @f(%x) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
  return %y : tensor<?x?x4xf32>
}
