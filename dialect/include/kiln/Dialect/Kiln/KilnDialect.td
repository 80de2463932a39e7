//===- KilnDialect.td - The kiln dialect -------------------*- tablegen -*-===//
//
// Transformer-level ops on tensors: the IR that the Kiln front-end emits and that the graph
// passes (autodiff, fusion, quantization) and the lowerings to linalg start from.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_DIALECT
#define KILN_DIALECT

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypes.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let summary = "Transformer-level ops: embeddings, norms, attention, feed-forward, heads, losses.";
  let description = [{
    The `kiln` dialect describes a transformer model as a graph of tensor ops at the level a
    model author thinks in. Parameters are module-level symbols (`kiln.param`) with stable
    hierarchical names, referenced from functions by `kiln.param_ref`. All values are builtin
    ranked tensors: activations are floating point, token ids, type ids, masks and labels are
    `i32`. Batch and sequence dimensions may be dynamic (`?`).

    Discardable attributes understood by the dialect:
    - `kiln.config` on a `builtin.module`: a dictionary of the model configuration values.
    - `kiln.input` on a function argument and `kiln.output` on a function result: a string
      naming the model input or output.
  }];
  let cppNamespace = "::kiln";
  // Generation entry points (prefill, decode) slice the last position and cast decode's
  // [batch, 1] ids with tensor / arith ops next to kiln ops: any tool reading kiln IR reads them.
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Names of the discardable attributes the dialect verifies.
    static constexpr ::llvm::StringLiteral kConfigAttrName = "kiln.config";
    static constexpr ::llvm::StringLiteral kInputAttrName = "kiln.input";
    static constexpr ::llvm::StringLiteral kOutputAttrName = "kiln.output";
    static constexpr ::llvm::StringLiteral kDimsAttrName = "kiln.dims";
    /// Names a state tensor (a KV cache) of an entry point: on an argument, the state as the
    /// call finds it; on a result, the same state after the call (written in place).
    static constexpr ::llvm::StringLiteral kStateAttrName = "kiln.state";
    static constexpr ::llvm::StringLiteral kHfPrefixesAttrName = "kiln.hf_prefixes";
    static constexpr ::llvm::StringLiteral kHfIgnoreAttrName = "kiln.hf_ignore";
  }];
}

/// Base class of every kiln op.
class Kiln_Op<string mnemonic, list<Trait> traits = []> :
    Op<Kiln_Dialect, mnemonic, traits>;

#endif // KILN_DIALECT
