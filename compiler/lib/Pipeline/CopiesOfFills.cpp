//===- CopiesOfFills.cpp - A copy of a filled buffer becomes a fill ---------===//
//
// CSE merges the identical zero fills of a whole entry point: every matmul of a layer takes
// its accumulator from one `linalg.fill` of zero, and attention's score, max and sum buffers
// share theirs. One-shot bufferization keeps that fill in one buffer and gives each other use
// a copy of it (duplicating the fill on tensors does not last: CSE merges it again before the
// analysis). A copy reads the whole buffer and writes it; a fill only writes. Here, after
// bufferization, `linalg.copy ins(A) outs(B)` becomes `linalg.fill ins(c) outs(B)` when A is a
// `memref.alloc` of the same block whose only write before the copy is `linalg.fill ins(c)
// outs(A)`.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace kiln {
namespace {

/// The fill value of `copy`'s source when the copy reads an untouched fill (file comment).
Value filledValue(linalg::CopyOp copy) {
  if (!copy.hasPureBufferSemantics())
    return {};
  Value source = copy.getInputs()[0];
  auto alloc = source.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != copy->getBlock())
    return {};
  linalg::FillOp fill;
  for (Operation *user : source.getUsers()) {
    if (user == copy.getOperation())
      continue;
    // Every other use in the same block (a view's uses are not followed: a view is a use).
    if (user->getBlock() != copy->getBlock())
      return {};
    if (!user->isBeforeInBlock(copy))
      continue;
    if (auto f = dyn_cast<linalg::FillOp>(user); f && !fill && f.getOutputs()[0] == source) {
      fill = f;
      continue;
    }
    // Before the copy only other copies out of it, which read it, and deallocs do not come
    // before a use.
    auto other = dyn_cast<linalg::CopyOp>(user);
    if (!other || other.getInputs()[0] != source || other.getOutputs()[0] == source)
      return {};
  }
  return fill ? fill.getInputs()[0] : Value();
}

} // namespace

unsigned fillInsteadOfCopy(func::FuncOp function) {
  SmallVector<std::pair<linalg::CopyOp, Value>> found;
  function.walk([&](linalg::CopyOp copy) {
    if (Value value = filledValue(copy))
      found.emplace_back(copy, value);
  });
  for (auto [copy, value] : found) {
    OpBuilder b(copy);
    b.create<linalg::FillOp>(copy.getLoc(), value, copy.getOutputs()[0]);
    copy->erase();
  }
  return found.size();
}

} // namespace kiln
