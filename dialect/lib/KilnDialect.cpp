//===- KilnDialect.cpp - The kiln dialect ---------------------------------===//
#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

using namespace mlir;
using namespace kiln;

#include "kiln/Dialect/Kiln/KilnOpsDialect.cpp.inc"

void KilnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "kiln/Dialect/Kiln/KilnOps.cpp.inc"
      >();
}
