//===- Passes.h - dispatch formation passes ----------------------*- C++ -*-===//
#ifndef KILN_DISPATCH_PASSES_H
#define KILN_DISPATCH_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace kiln {

#define GEN_PASS_DECL
#include "kiln/Dispatch/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "kiln/Dispatch/Passes.h.inc"

} // namespace kiln

#endif // KILN_DISPATCH_PASSES_H
