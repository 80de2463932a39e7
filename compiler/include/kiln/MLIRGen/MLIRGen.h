//===- MLIRGen.h - Emit kiln dialect IR from an elaborated Kiln model -----===//
#ifndef KILN_MLIRGEN_MLIRGEN_H
#define KILN_MLIRGEN_MLIRGEN_H

#include "kiln/Frontend/Graph.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace kiln {

/// Builds `module @<model> attributes {kiln.config = ...}` with one `kiln.param` per parameter,
/// `func.func @forward` and, when the model declares an objective, `func.func @loss`.
/// Every op carries the FileLineColLoc of the Kiln construct it comes from. Returns null (after
/// reporting through mlir::emitError) when the module cannot be built or does not verify.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context, const fe::Graph &graph,
                                          const std::string &fileName);

} // namespace kiln

#endif // KILN_MLIRGEN_MLIRGEN_H
