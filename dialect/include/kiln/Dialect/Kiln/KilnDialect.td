//===- KilnDialect.td - The kiln dialect -------------------*- tablegen -*-===//
//
// Transformer-level ops on tensors: the IR that the Kiln front-end emits and that the graph
// passes (autodiff, fusion, quantization) and the lowerings to linalg start from.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_DIALECT
#define KILN_DIALECT

include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinTypes.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let summary = "Transformer-level ops: embeddings, norms, attention, feed-forward, heads, losses.";
  let description = [{
    The `kiln` dialect describes a transformer model as a graph of tensor ops at the level a
    model author thinks in. Parameters are module-level symbols with stable hierarchical names.
  }];
  let cppNamespace = "::kiln";
}

class Kiln_Op<string mnemonic, list<Trait> traits = []> :
    Op<Kiln_Dialect, mnemonic, traits>;

#endif // KILN_DIALECT
