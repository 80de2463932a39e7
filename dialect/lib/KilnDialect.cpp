//===- KilnDialect.cpp - The kiln dialect ---------------------------------===//
//
// Dialect registration and the verification of the discardable attributes the dialect owns
// (kiln.config, kiln.hf_prefixes, kiln.hf_ignore on modules; kiln.input, kiln.output, kiln.dims on
// entry-function arguments and results).
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln;

#include "kiln/Dialect/Kiln/KilnOpsDialect.cpp.inc"

#include "kiln/Dialect/Kiln/KilnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "kiln/Dialect/Kiln/KilnAttrs.cpp.inc"

void KilnDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "kiln/Dialect/Kiln/KilnAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "kiln/Dialect/Kiln/KilnOps.cpp.inc"
      >();
}

LogicalResult KilnDialect::verifyOperationAttribute(Operation *op, NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kConfigAttrName) {
    // dialect_c1
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on a builtin.module, not on '"
                             << op->getName() << "'";
    auto config = dyn_cast<DictionaryAttr>(attr.getValue());
    // dialect_c2
    if (!config)
      return op->emitError() << "'" << name << "' must be a dictionary, got " << attr.getValue();
    for (NamedAttribute entry : config) {
      // dialect_c3
      if (!isa<IntegerAttr, FloatAttr, StringAttr>(entry.getValue()))
        return op->emitError() << "'" << name << "' entry '" << entry.getName().getValue()
                               << "' must be an integer, float, boolean or string, got "
                               << entry.getValue();
    }
    return success();
  }
  if (name == kHfPrefixesAttrName || name == kHfIgnoreAttrName) {
    // dialect_c8
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on a builtin.module, not on '"
                             << op->getName() << "'";
    auto list = dyn_cast<ArrayAttr>(attr.getValue());
    // dialect_c9
    if (!list || !llvm::all_of(list, [](Attribute a) { return isa<StringAttr>(a); }))
      return op->emitError() << "'" << name << "' must be an array of strings, got "
                             << attr.getValue();
    // dialect_c10: the empty prefix is always accepted; an empty ignore pattern matches nothing
    if (name == kHfIgnoreAttrName)
      for (Attribute a : list)
        if (cast<StringAttr>(a).getValue().empty())
          return op->emitError() << "'" << name << "' patterns must be non-empty";
    return success();
  }
  // dialect_c4
  if (name == kInputAttrName || name == kOutputAttrName || name == kDimsAttrName ||
      name == kStateAttrName)
    return op->emitError() << "'" << name << "' belongs on a function "
                           << (name == kInputAttrName    ? "argument"
                               : name == kOutputAttrName ? "result"
                                                         : "argument or result");
  // dialect_c5
  return op->emitError() << "unknown kiln attribute '" << name << "'";
}

/// kiln.dims: one non-empty symbol name (`batch`, `seq`) per dynamic dimension of the type, in
/// order, so that the runtime knows which sizes of different inputs and outputs must agree.
static LogicalResult verifyDims(Operation *op, NamedAttribute attr, Type type, StringRef where,
                                unsigned index) {
  StringRef name = attr.getName().getValue();
  auto list = dyn_cast<ArrayAttr>(attr.getValue());
  // dialect_c11
  if (!list || !llvm::all_of(list, [](Attribute a) {
        auto s = dyn_cast<StringAttr>(a);
        return s && !s.getValue().empty();
      }))
    return op->emitError() << "'" << name << "' on " << where << " " << index
                           << " must be an array of non-empty strings, got " << attr.getValue();
  auto shaped = dyn_cast<ShapedType>(type);
  int64_t dynamic = shaped && shaped.hasRank() ? shaped.getNumDynamicDims() : 0;
  // dialect_c12
  if (static_cast<int64_t>(list.size()) != dynamic)
    return op->emitError() << "'" << name << "' on " << where << " " << index << " names "
                           << list.size() << " dimensions but " << type << " has " << dynamic
                           << " dynamic ones";
  return success();
}

/// kiln.input / kiln.output: a non-empty string naming the model input or output.
static LogicalResult verifyIoName(Operation *op, NamedAttribute attr, StringRef expected,
                                  StringRef where, unsigned index) {
  StringRef name = attr.getName().getValue();
  // dialect_c6
  if (name != expected)
    return op->emitError() << "'" << name << "' is not valid on a function " << where << " (only '"
                           << expected << "' is)";
  auto str = dyn_cast<StringAttr>(attr.getValue());
  // dialect_c7
  if (!str || str.getValue().empty())
    return op->emitError() << "'" << name << "' on " << where << " " << index
                           << " must be a non-empty string, got " << attr.getValue();
  return success();
}

/// kiln.state: a non-empty string naming a state tensor (a KV cache).
static LogicalResult verifyStateName(Operation *op, NamedAttribute attr, StringRef where,
                                     unsigned index) {
  auto str = dyn_cast<StringAttr>(attr.getValue());
  // dialect_c13
  if (!str || str.getValue().empty())
    return op->emitError() << "'" << attr.getName().getValue() << "' on " << where << " "
                           << index << " must be a non-empty string, got " << attr.getValue();
  return success();
}

LogicalResult KilnDialect::verifyRegionArgAttribute(Operation *op, unsigned /*regionIndex*/,
                                                    unsigned argIndex, NamedAttribute attr) {
  if (attr.getName() == kDimsAttrName) {
    auto fn = dyn_cast<FunctionOpInterface>(op);
    Type type = fn && argIndex < fn.getNumArguments() ? fn.getArgumentTypes()[argIndex] : Type();
    return verifyDims(op, attr, type, "argument", argIndex);
  }
  if (attr.getName() == kStateAttrName)
    return verifyStateName(op, attr, "argument", argIndex);
  return verifyIoName(op, attr, kInputAttrName, "argument", argIndex);
}

LogicalResult KilnDialect::verifyRegionResultAttribute(Operation *op, unsigned /*regionIndex*/,
                                                       unsigned resultIndex, NamedAttribute attr) {
  if (attr.getName() == kDimsAttrName) {
    auto fn = dyn_cast<FunctionOpInterface>(op);
    Type type = fn && resultIndex < fn.getNumResults() ? fn.getResultTypes()[resultIndex] : Type();
    return verifyDims(op, attr, type, "result", resultIndex);
  }
  if (attr.getName() == kStateAttrName)
    return verifyStateName(op, attr, "result", resultIndex);
  return verifyIoName(op, attr, kOutputAttrName, "result", resultIndex);
}
