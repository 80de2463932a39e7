//===- Passes.td - kiln conversion passes ------------------*- tablegen -*-===//
#ifndef KILN_CONVERSION_PASSES
#define KILN_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def KilnLowerToLinalg : Pass<"kiln-lower-to-linalg"> {
  let summary = "Lowers kiln graph ops to linalg/tensor/arith/math on tensors.";
  let description = [{
    Rewrites every kiln graph op into `linalg.generic`/`linalg.fill` ops over tensors, with
    `tensor`, `arith` and `math` ops for shapes, gathers and scalar arithmetic. Dynamic batch
    and sequence sizes are read with `tensor.dim`. Softmax and log-softmax subtract the row
    maximum first; masked attention scores become the lowest finite float. `kiln.dropout`
    lowers to its input (inference semantics). `kiln.param` and `kiln.param_ref` stay: how
    parameters reach a compiled function is decided by the entry-point ABI, later.

    Before:
    ```mlir
    %y = kiln.activation relu %x : tensor<?x8xf32>
    ```
    After:
    ```mlir
    %c0 = arith.constant 0 : index
    %d0 = tensor.dim %x, %c0 : tensor<?x8xf32>
    %e = tensor.empty(%d0) : tensor<?x8xf32>
    %y = linalg.generic {...} ins(%x : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
    ^bb0(%in: f32, %out: f32):
      %zero = arith.constant 0.000000e+00 : f32
      %r = arith.maximumf %in, %zero : f32
      linalg.yield %r : f32
    } -> tensor<?x8xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // KILN_CONVERSION_PASSES
