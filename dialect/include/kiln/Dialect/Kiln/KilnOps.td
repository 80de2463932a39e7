//===- KilnOps.td - kiln dialect ops -----------------------*- tablegen -*-===//
#ifndef KILN_OPS
#define KILN_OPS

include "kiln/Dialect/Kiln/KilnDialect.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_AddOp : Kiln_Op<"add", [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise addition (residual connections).";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

#endif // KILN_OPS
