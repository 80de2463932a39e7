//===- Passes.td - kiln dialect passes ---------------------*- tablegen -*-===//
#ifndef KILN_TRANSFORMS_PASSES
#define KILN_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def KilnStripDropout : Pass<"kiln-strip-dropout"> {
  let summary = "Replaces every kiln.dropout by its input (inference entry points).";
  let description = [{
    Dropout is the identity at inference. This pass forwards the input of every
    `kiln.dropout`, whatever its rate, so that inference entry points carry no dropout.

    Before:
    ```mlir
    %y = kiln.dropout %x {rate = 1.000000e-01} : tensor<?x?x768xf32>
    return %y : tensor<?x?x768xf32>
    ```
    After:
    ```mlir
    return %x : tensor<?x?x768xf32>
    ```
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
}

def KilnTestInferTypes : Pass<"kiln-test-infer-types"> {
  let summary = "Test only: reports the result types each kiln op infers from its operands.";
  let description = [{
    Emits a remark `inferred <types>` on every kiln op that implements
    InferTypeOpInterface, computed from its operands and attributes alone (what the
    builders without result types use). The IR is not changed.
  }];
}

#endif // KILN_TRANSFORMS_PASSES
