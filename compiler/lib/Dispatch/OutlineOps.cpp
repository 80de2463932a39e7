//===- OutlineOps.cpp - One function per op of a whole entry point --------===//
//
// An entry point compiled whole (dynamic batch / seq: no per-op dispatches) is one function
// holding every layer's ops. LLVM's loop passes then optimize the same layer-norm, matmul and
// softmax loops once per layer, in one function whose size makes them slower still. After
// bufferization each linalg op on buffers is moved into a function of its own and called
// instead; the outlined functions of the repeated layers are identical (their operands are
// arguments), so merging them leaves one function per distinct op for LLVM to optimize.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dispatch/Dispatch.h"
#include "kiln/Dispatch/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace kiln {
#define GEN_PASS_DEF_KILNOUTLINEBUFFEROPS
#include "kiln/Dispatch/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace kiln::dispatch {
namespace {

bool isOutlinable(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.hasPureBufferSemantics() && op->getNumResults() == 0;
}

/// Moves `op` into a new function `@name` inserted after `parent` and calls it instead.
void outlineOp(Operation *op, func::FuncOp parent, StringRef name, SymbolTable &symbols) {
  // The values the function takes: the op's operands, then what its regions read from above,
  // each once. Constants read from above are copied into the function instead.
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(op->getRegions(), captured);
  llvm::SetVector<Value> arguments(op->getOperands().begin(), op->getOperands().end());
  SmallVector<Operation *> constants;
  for (Value v : captured) {
    Operation *def = v.getDefiningOp();
    if (def && def->getNumResults() == 1 && matchPattern(def, m_Constant()))
      constants.push_back(def);
    else
      arguments.insert(v);
  }

  OpBuilder b(parent.getContext());
  b.setInsertionPointAfter(parent);
  SmallVector<Type> types;
  for (Value v : arguments)
    types.push_back(v.getType());
  auto fn = b.create<func::FuncOp>(op->getLoc(), name, b.getFunctionType(types, {}));
  fn.setPrivate();
  fn->setAttr(kOutlinedOpAttr, b.getUnitAttr());
  // LLVM's inliner would copy the op back into every caller (the loop nests are small IR),
  // and the compile would again optimize it once per layer (gpt2: 30 s instead of 6 s).
  fn->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
  symbols.insert(fn);
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  IRMapping mapping;
  for (auto [v, arg] : llvm::zip(arguments, body->getArguments()))
    mapping.map(v, arg);
  for (Operation *c : constants)
    b.clone(*c, mapping);
  b.clone(*op, mapping);
  b.create<func::ReturnOp>(op->getLoc());

  b.setInsertionPoint(op);
  b.create<func::CallOp>(op->getLoc(), fn, arguments.getArrayRef());
  op->erase();
}

} // namespace

void outlineBufferOps(ModuleOp module, ArrayRef<func::FuncOp> functions) {
  SymbolTable symbols(module);
  for (func::FuncOp f : functions) {
    if (f.isExternal())
      continue;
    SmallVector<Operation *> ops;
    for (Block &block : f.getBody())
      for (Operation &op : block)
        if (isOutlinable(&op))
          ops.push_back(&op);
    // Inserted after `f` in reverse, so that the module lists them in program order.
    for (auto [i, op] : llvm::enumerate(llvm::reverse(ops)))
      outlineOp(op, f, (f.getSymName() + "_op_" + Twine(ops.size() - 1 - i)).str(), symbols);
  }
  dedupeFunctions(module, [](func::FuncOp f) { return f->hasAttr(kOutlinedOpAttr); });
}

} // namespace kiln::dispatch

namespace {

struct KilnOutlineBufferOpsPass
    : kiln::impl::KilnOutlineBufferOpsBase<KilnOutlineBufferOpsPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> functions;
    for (func::FuncOp f : getOperation().getOps<func::FuncOp>())
      if (f.isPublic() && !f.isExternal())
        functions.push_back(f);
    kiln::dispatch::outlineBufferOps(getOperation(), functions);
  }
};

} // namespace
