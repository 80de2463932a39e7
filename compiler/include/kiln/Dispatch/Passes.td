//===- Passes.td - dispatch formation passes ---------------*- tablegen -*-===//
#ifndef KILN_DISPATCH_PASSES
#define KILN_DISPATCH_PASSES

include "mlir/Pass/PassBase.td"

def KilnSpecializeShapes : Pass<"kiln-specialize-shapes", "::mlir::ModuleOp"> {
  let summary = "Binds an entry point's symbolic dimensions to constants (kiln level).";
  let description = [{
    Rewrites the signature of entry point `entry` so that every dynamic dimension named in
    its `kiln.dims` (or `<input>_<axis>` when unnamed) takes the size given in `dims`, then
    re-infers the result type of every op in the body (kiln ops through their type
    inference; a `tensor.cast` becomes the identity; other ops are refused: run this before
    the lowering) so that no dynamic size remains. `kiln.dims` is replaced by
    `kiln_static_dims`, a dictionary of the bound sizes on the function. A dimension left unbound, a name that is not a dimension of
    the entry point, or a size that is not positive is an error.

    Before (`entry=forward dims=batch=1,seq=64`):
    ```mlir
    func.func @forward(%ids: tensor<?x?xi32> {kiln.dims = ["batch", "seq"], kiln.input = "ids"})
        -> (tensor<?x?x768xf32> {kiln.dims = ["batch", "seq"], kiln.output = "x"}) {
      %w = kiln.param_ref @wte.weight : tensor<50257x768xf32>
      %x = kiln.embedding %ids, %w : tensor<?x?xi32>, tensor<50257x768xf32> -> tensor<?x?x768xf32>
      return %x : tensor<?x?x768xf32>
    }
    ```
    After:
    ```mlir
    func.func @forward(%ids: tensor<1x64xi32> {kiln.input = "ids"})
        -> (tensor<1x64x768xf32> {kiln.output = "x"})
        attributes {kiln_static_dims = {batch = 1 : i64, seq = 64 : i64}} {
      ...
      %x = kiln.embedding %ids, %w : tensor<1x64xi32>, tensor<50257x768xf32> -> tensor<1x64x768xf32>
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"forward\"",
           "The entry point to specialize">,
    ListOption<"dims", "dims", "std::string",
               "Sizes of the symbolic dimensions: name=size, comma separated">,
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def KilnDispatchFusion : Pass<"kiln-dispatch-fusion"> {
  let summary = "Prepares static linalg on tensors for dispatch formation.";
  let description = [{
    Static `tensor.reshape`s become `tensor.collapse_shape` / `tensor.expand_shape`;
    reshapes are moved through elementwise `linalg.generic`s by collapsing their loops (the
    `[B, S, N]` consumer of an `[M, N]` matmul becomes `[M, N]`), and elementwise producers
    with a single use are fused into their consumers (`linalg-fuse-elementwise-ops`), except
    that an op reading a contraction's result is never fused into a reduction: it stays the
    contraction's epilogue. Afterwards a matmul is followed by at most one elementwise
    `linalg.generic` (bias, bias + GELU, bias + residual).
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
  ];
}

def KilnFormDispatches : Pass<"kiln-form-dispatches", "::mlir::ModuleOp"> {
  let summary = "Cuts static-shape entry points into outlined dispatch functions.";
  let description = [{
    Groups the linalg / tensor ops of every public function with a body (or of `entries`)
    into dispatches and outlines each into a private
    `func.func @<entry>_dispatch_<n>` taking and returning tensors (attribute
    `kiln_dispatch`); the entry point becomes a sequence of `func.call`s between
    `kiln.param_ref`s and shape-only views (`tensor.expand_shape`, `collapse_shape`,
    `reshape`, `cast`). Grouping (docs/dispatch.md):

    - a contraction (`linalg.matmul`, `matmul_transpose_b`, `batch_matmul`, a
      `linalg.generic` contraction) with its elementwise epilogue when that epilogue is the
      contraction's only user, and the structured op computing its accumulator's start when
      the contraction is that op's only user;
    - row-statistics chains (a reduction, the elementwise ops using its result, a second
      reduction over those: layer norm, softmax) form one dispatch;
    - every other op is its own dispatch.

    Constants, `tensor.empty` and fills of them are cloned into each dispatch that uses them.
    Dynamic shapes are refused (run `kiln-specialize-shapes` first).
  }];
  let options = [
    ListOption<"entries", "entries", "std::string",
               "Entry points to cut (default: every public function with a body)">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def KilnDedupeDispatches : Pass<"kiln-dedupe-dispatches", "::mlir::ModuleOp"> {
  let summary = "Merges identical dispatch functions and redirects their calls.";
  let description = [{
    After `kiln-form-dispatches`, a dispatch function (`kiln_dispatch`) whose function type,
    argument / result attributes and body equal those of an earlier dispatch function in the
    module (same ops, attributes, types, operands and block arguments in the same positions;
    symbol names, SSA names, locations and the `kiln_dispatch` entry name are ignored) is
    erased and every call to it is redirected to the earlier one, so that each target
    compiles it once. This holds across entry points (`@prefill_dispatch_3` merges into
    `@forward_dispatch_3` when their shapes agree). The repeated layers of a model differ
    only in the parameters their calls bind, so they share their dispatches.

    Before:
    ```mlir
    func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
      %0 = call @forward_dispatch_0(%x, %w0) : (...) -> tensor<4x8xf32>
      %1 = call @forward_dispatch_1(%0, %w1) : (...) -> tensor<4x8xf32>
      return %1 : tensor<4x8xf32>
    }
    func.func private @forward_dispatch_0(...) attributes {kiln_dispatch = "forward"} { BODY }
    func.func private @forward_dispatch_1(...) attributes {kiln_dispatch = "forward"} { BODY }
    ```
    After:
    ```mlir
    func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
      %0 = call @forward_dispatch_0(%x, %w0) : (...) -> tensor<4x8xf32>
      %1 = call @forward_dispatch_0(%0, %w1) : (...) -> tensor<4x8xf32>
      return %1 : tensor<4x8xf32>
    }
    func.func private @forward_dispatch_0(...) attributes {kiln_dispatch = "forward"} { BODY }
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def KilnOutlineBufferOps : Pass<"kiln-outline-buffer-ops", "::mlir::ModuleOp"> {
  let summary = "Moves each linalg op on buffers of a public function into a function of its own.";
  let description = [{
    For an entry point compiled whole (after bufferization; dynamic shapes are fine): every
    linalg op on buffers in the body of a public function becomes a call to a private
    function `@<function>_op_<n>` (attribute `kiln_outlined_op`, and LLVM's `noinline` as
    `passthrough`) holding only that op. The
    function takes the op's operands and the values its regions read from above, each
    distinct value once, in that order; constants read from above are copied into it. Then
    identical outlined functions are merged as `kiln-dedupe-dispatches` merges dispatches:
    the repeated layers of a model call one function per distinct op, so the code generator
    optimizes each once (docs/cpu-backend.md "Compile time").

    Before:
    ```mlir
    func.func @forward(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %z: memref<?x8xf32>) {
      linalg.copy ins(%x : memref<?x8xf32>) outs(%y : memref<?x8xf32>)
      linalg.copy ins(%y : memref<?x8xf32>) outs(%z : memref<?x8xf32>)
      return
    }
    ```
    After:
    ```mlir
    func.func @forward(%x: memref<?x8xf32>, %y: memref<?x8xf32>, %z: memref<?x8xf32>) {
      call @forward_op_0(%x, %y) : (memref<?x8xf32>, memref<?x8xf32>) -> ()
      call @forward_op_0(%y, %z) : (memref<?x8xf32>, memref<?x8xf32>) -> ()
      return
    }
    func.func private @forward_op_0(%a: memref<?x8xf32>, %b: memref<?x8xf32>)
        attributes {kiln_outlined_op, passthrough = ["noinline"]} {
      linalg.copy ins(%a : memref<?x8xf32>) outs(%b : memref<?x8xf32>)
      return
    }
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def KilnPrintDispatchSchedule : Pass<"kiln-print-dispatch-schedule", "::mlir::ModuleOp"> {
  let summary = "Prints the dispatch schedule of outlined entry points as JSON.";
  let description = [{
    For each entry point cut by `kiln-form-dispatches` (or those in `entries`), prints one
    JSON schedule to stdout (docs/artifact.md "Schedules", with the planned `temporary`
    buffer kind): the dispatches in order, each operand and result bound to an entry
    input, a parameter, an entry output or a temporary, and the temporaries with their byte
    sizes, live ranges and offsets in one arena (liveness-based reuse). The IR is unchanged.
  }];
  let options = [
    ListOption<"entries", "entries", "std::string",
               "Entry points to describe (default: every entry point with dispatches)">,
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Alignment of each temporary's offset in the arena, in bytes">,
  ];
}

def KilnExtractDispatches : Pass<"kiln-extract-dispatches", "::mlir::ModuleOp"> {
  let summary = "Keeps only the outlined dispatch functions, made public.";
  let description = [{
    Erases everything in the module except the `kiln_dispatch` functions and makes those
    public: the input `kiln-cpu-compile` expects (one public function per dispatch).
  }];
}

#endif // KILN_DISPATCH_PASSES
