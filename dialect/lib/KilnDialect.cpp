//===- KilnDialect.cpp - The kiln dialect ---------------------------------===//
//
// Dialect registration and the verification of the discardable attributes the dialect owns
// (kiln.config, kiln.input, kiln.output).
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
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
  // dialect_c4
  if (name == kInputAttrName || name == kOutputAttrName)
    return op->emitError() << "'" << name << "' belongs on a function "
                           << (name == kInputAttrName ? "argument" : "result");
  // dialect_c5
  return op->emitError() << "unknown kiln attribute '" << name << "'";
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

LogicalResult KilnDialect::verifyRegionArgAttribute(Operation *op, unsigned /*regionIndex*/,
                                                    unsigned argIndex, NamedAttribute attr) {
  return verifyIoName(op, attr, kInputAttrName, "argument", argIndex);
}

LogicalResult KilnDialect::verifyRegionResultAttribute(Operation *op, unsigned /*regionIndex*/,
                                                       unsigned resultIndex, NamedAttribute attr) {
  return verifyIoName(op, attr, kOutputAttrName, "result", resultIndex);
}
