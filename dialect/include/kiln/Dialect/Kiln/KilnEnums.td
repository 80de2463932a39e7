//===- KilnEnums.td - kiln dialect enum attributes ---------*- tablegen -*-===//
#ifndef KILN_ENUMS
#define KILN_ENUMS

include "kiln/Dialect/Kiln/KilnDialect.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// InitKind: how a parameter is initialised before training.
//===----------------------------------------------------------------------===//

def Kiln_InitKind : I32EnumAttr<"InitKind", "parameter initialisation", [
    I32EnumAttrCase<"Normal", 0, "normal">,
    I32EnumAttrCase<"Zeros", 1, "zeros">,
    I32EnumAttrCase<"Ones", 2, "ones">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::kiln";
}
// Lives in kiln.param's attribute dictionary, printed `#kiln.init<normal>`.
def Kiln_InitKindAttr : EnumAttr<Kiln_Dialect, Kiln_InitKind, "init"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// ActivationKind: the pointwise nonlinearity of kiln.activation.
//===----------------------------------------------------------------------===//

def Kiln_ActivationKind : I32EnumAttr<"ActivationKind", "activation function", [
    I32EnumAttrCase<"Gelu", 0, "gelu">,
    I32EnumAttrCase<"GeluTanh", 1, "gelu_tanh">,
    I32EnumAttrCase<"Relu", 2, "relu">,
    I32EnumAttrCase<"Silu", 3, "silu">,
    I32EnumAttrCase<"Tanh", 4, "tanh">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::kiln";
}
// Printed as a bare keyword inside ops (`kiln.activation gelu %x`), `#kiln<activation gelu>`
// elsewhere.
def Kiln_ActivationKindAttr : EnumAttr<Kiln_Dialect, Kiln_ActivationKind, "activation">;

//===----------------------------------------------------------------------===//
// PoolMode: how kiln.pool reduces the sequence dimension.
//===----------------------------------------------------------------------===//

def Kiln_PoolMode : I32EnumAttr<"PoolMode", "sequence pooling mode", [
    I32EnumAttrCase<"First", 0, "first">,
    I32EnumAttrCase<"Mean", 1, "mean">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::kiln";
}
def Kiln_PoolModeAttr : EnumAttr<Kiln_Dialect, Kiln_PoolMode, "pool_mode">;

#endif // KILN_ENUMS
