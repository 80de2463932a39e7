//===- Prepare.cpp - Dispatch functions on tensors -> in-place memref ABI -===//
//
// A dispatch arrives as `func.func @d(%a: tensor<..>, ...) -> (tensor<..>, ...)`. The runtime
// calls it with one buffer per input and one per result, so the function is rewritten to take
// memrefs and write its results in place: inputs are read through
// `bufferization.to_tensor %m restrict`, results are stored with
// `bufferization.materialize_in_destination ... restrict writable` (MLIR-NOTES.md, "CPU path").
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace kiln::cpu {

MemRefType bufferTypeOf(Type rankedTensorType) {
  auto tensor = cast<RankedTensorType>(rankedTensorType);
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

void readArgumentsFromBuffers(func::FuncOp func, SmallVectorImpl<Type> &argTypes) {
  Block &entry = func.getBody().front();
  OpBuilder b(func.getContext());
  b.setInsertionPointToStart(&entry);
  for (BlockArgument arg : entry.getArguments()) {
    MemRefType memref = bufferTypeOf(arg.getType());
    argTypes.push_back(memref);
    arg.setType(memref);
    auto read = b.create<bufferization::ToTensorOp>(func.getLoc(), arg, /*restrict=*/true,
                                                    /*writable=*/false);
    arg.replaceAllUsesExcept(read.getResult(), read);
  }
}

void writeResultsToBuffers(func::FuncOp func, TypeRange results, SmallVectorImpl<Type> &argTypes) {
  Block &entry = func.getBody().front();
  SmallVector<BlockArgument> outs;
  for (Type t : results) {
    MemRefType memref = bufferTypeOf(t);
    argTypes.push_back(memref);
    outs.push_back(entry.addArgument(memref, func.getLoc()));
  }
  OpBuilder b(func.getContext());
  func.walk([&](func::ReturnOp ret) {
    b.setInsertionPoint(ret);
    for (auto [value, out] : llvm::zip(ret.getOperands(), outs))
      b.create<bufferization::MaterializeInDestinationOp>(ret.getLoc(), TypeRange(), value, out,
                                                          /*restrict=*/true, /*writable=*/true);
    ret->setOperands({});
  });
}


static LogicalResult checkStaticTensor(func::FuncOp func, Type type, StringRef what,
                                       unsigned index) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return func.emitError() << "dispatch '" << func.getSymName() << "': " << what << " #"
                            << index << " has type " << type
                            << "; the CPU target takes ranked tensors only";
  if (!tensor.hasStaticShape())
    return func.emitError() << "dispatch '" << func.getSymName() << "': " << what << " #"
                            << index << " has dynamic shape " << type
                            << "; the CPU target compiles static shapes only";
  if (!tensor.getElementType().isIntOrFloat())
    return func.emitError() << "dispatch '" << func.getSymName() << "': " << what << " #"
                            << index << " has element type " << tensor.getElementType()
                            << ", which has no buffer layout";
  return success();
}

static LogicalResult prepareFunction(func::FuncOp func) {
  FunctionType type = func.getFunctionType();
  bool takesTensors =
      llvm::any_of(type.getInputs(), [](Type t) { return isa<TensorType>(t); }) ||
      llvm::any_of(type.getResults(), [](Type t) { return isa<TensorType>(t); });
  if (!takesTensors) {
    for (auto [i, t] : llvm::enumerate(type.getInputs())) {
      auto memref = dyn_cast<MemRefType>(t);
      if (!memref || !memref.hasStaticShape() || !memref.getLayout().isIdentity())
        return func.emitError() << "dispatch '" << func.getSymName() << "': argument #" << i
                                << " has type " << t
                                << "; expected a static memref with the identity layout";
    }
    if (type.getNumResults())
      return func.emitError() << "dispatch '" << func.getSymName()
                              << "': memref dispatches write results in place, not return them";
    return success();
  }
  for (auto [i, t] : llvm::enumerate(type.getInputs()))
    if (failed(checkStaticTensor(func, t, "argument", i)))
      return failure();
  for (auto [i, t] : llvm::enumerate(type.getResults()))
    if (failed(checkStaticTensor(func, t, "result", i)))
      return failure();

  SmallVector<Type> newInputs;
  readArgumentsFromBuffers(func, newInputs);
  writeResultsToBuffers(func, type.getResults(), newInputs);
  func.setFunctionType(FunctionType::get(func.getContext(), newInputs, {}));
  return success();
}

LogicalResult prepareDispatches(ModuleOp module) {
  for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>())) {
    if (func.isExternal())
      return func.emitError() << "dispatch '" << func.getSymName() << "' has no body";
    if (func.getBody().getBlocks().size() != 1)
      return func.emitError() << "dispatch '" << func.getSymName()
                              << "' must have a single block";
    if (failed(prepareFunction(func)))
      return failure();
  }
  return success();
}

} // namespace kiln::cpu
