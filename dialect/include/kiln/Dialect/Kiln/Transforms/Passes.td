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

def KilnStoreWeights : Pass<"kiln-store-weights", "::mlir::ModuleOp"> {
  let summary = "Stores the matrix weights of linear layers in a narrower type (bf16, int8).";
  let description = [{
    Every `kiln.param` that is a 2-D f32 matrix read only as the weight of `kiln.linear` ops
    with f32 inputs or as the table of `kiln.embedding` ops (through `kiln.param_ref`, in any
    function; a tied output head's weight is both) gets the element type `dtype`; its
    references follow. Everything still computes in f32: each weight is widened as it is read
    (docs/dialect.md, `kiln.linear` c2, `kiln.embedding`). Position tables, norms, biases and
    every other parameter stay f32. Halves the bytes a decoded token reads.

    Before:
    ```mlir
    kiln.param @w : tensor<3072x768xf32> {init = #kiln.init<normal>, std = 2.0e-02}
    %w = kiln.param_ref @w : tensor<3072x768xf32>
    %y = kiln.linear %x, %w : tensor<?x?x768xf32>, tensor<3072x768xf32> -> tensor<?x?x3072xf32>
    ```
    After (`dtype=bf16`):
    ```mlir
    kiln.param @w : tensor<3072x768xbf16> {init = #kiln.init<normal>, std = 2.0e-02}
    %w = kiln.param_ref @w : tensor<3072x768xbf16>
    %y = kiln.linear %x, %w : tensor<?x?x768xf32>, tensor<3072x768xbf16> -> tensor<?x?x3072xf32>
    ```

    With `dtype=int8`, a matrix read only as `kiln.linear` weights (f32 inputs) becomes i8,
    quantized symmetrically per output row when it is loaded, with its rows' scales in a new
    f32 parameter `<name>.scale` (`.scale.1`, ... if that name is taken) that names it back
    (`scale_of`); its linears become `kiln.linear_q`. Tables read by a `kiln.embedding` (a
    tied head's weight too) become bf16 as with `dtype=bf16`.
    ```mlir
    kiln.param @w : tensor<3072x768xi8> {init = #kiln.init<normal>, scale = @w.scale, std = 2.0e-02}
    kiln.param @w.scale : tensor<3072xf32> {init = #kiln.init<ones>, scale_of = @w}
    %w = kiln.param_ref @w : tensor<3072x768xi8>
    %s = kiln.param_ref @w.scale : tensor<3072xf32>
    %y = kiln.linear_q %x, %w, %s : tensor<?x?x768xf32>, tensor<3072x768xi8>, tensor<3072xf32> -> tensor<?x?x3072xf32>
    ```
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", /*default=*/"\"bf16\"",
           "The weights' storage type: bf16, int8 (f32 leaves the module as it is)">,
  ];
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
