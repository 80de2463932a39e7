//===- ThreadedOps.cpp - Outlined ops of whole entry points on the runtime's threads -===//
//
// An entry point compiled whole is one workgroup: besides its matmul chunks (MatmulChunks.cpp)
// every op ran on the calling thread. Attention's batched contractions, softmax and norms
// were a third of a 512-token GPT-2 prefill on one of two threads. Each outlined op (one
// linalg op in a function of its own) that has a parallel loop every output is indexed by,
// read by no `linalg.index` and appearing in the inputs only as a plain dimension, is split
// along that loop into slices that the runtime's threads run:
//
//  1. prepareThreadedOps (on buffers, before the lowering to LLVM): the function's memref
//     arguments take fully strided types with that dimension dynamic, so that a slice is
//     the same function on a narrower view (callers cast); the function records which of
//     its lowered arguments are the views' descriptors (`kiln_thread_split`).
//  2. spreadThreadedOps (LLVM dialect): each call from an entry point becomes, when the
//     loop's extent is at least 2 and its largest split view has at least kMinElements elements,
//     a call of `kiln_run_workgroups` with one workgroup per index of the loop and a piece
//     function `<op>_piece(args, scalars, begin, end)` that narrows every split view to
//     [begin, end) (offset += begin * stride, size = end - begin) and calls the op; below
//     that, the plain call (a decode step's small ops are cheaper on one thread).
//
// The loop chosen is the parallel loop with the largest static extent of at least 8 (heads),
// otherwise the last dynamic one (rows rather than batch); never an operand's innermost,
// contiguous dimension.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dispatch/Dispatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallBitVector.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

namespace kiln {
namespace {

constexpr llvm::StringLiteral kSplitAttr = "kiln_thread_split";
constexpr llvm::StringLiteral kPieceSuffix = "_piece";
constexpr llvm::StringLiteral kSpreadSuffix = "_spread";
/// Below this many elements of its largest split view an op runs on the calling thread.
constexpr int64_t kMinElements = 32 * 1024;

/// The op of an outlined function that can be split: one linalg op on buffers (constants
/// aside).
linalg::LinalgOp soleLinalgOp(func::FuncOp f) {
  if (!f->hasAttr(dispatch::kOutlinedOpAttr) || f.isExternal() || !f.getBody().hasOneBlock())
    return nullptr;
  linalg::LinalgOp found;
  for (Operation &op : f.getBody().front()) {
    if (isa<arith::ConstantOp, func::ReturnOp>(op))
      continue;
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (!linalgOp || found || !linalgOp.hasPureBufferSemantics())
      return nullptr;
    found = linalgOp;
  }
  return found;
}

/// The loop to split `op` along, if any (see the file comment).
std::optional<unsigned> chooseLoop(linalg::LinalgOp op) {
  // An input that is also an output, read at other positions than the ones written: another
  // slice may be writing what it reads.
  for (OpOperand *input : op.getDpsInputOperands())
    for (OpOperand &init : op.getDpsInitsMutable())
      if (input->get() == init.get() &&
          op.getMatchingIndexingMap(input) != op.getMatchingIndexingMap(&init))
        return std::nullopt;
  unsigned loops = op.getNumLoops();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  llvm::SmallBitVector indexed(loops);
  op->walk([&](linalg::IndexOp index) { indexed.set(index.getDim()); });
  auto usable = [&](unsigned d) {
    if (op.getIteratorTypesArray()[d] != utils::IteratorType::parallel || indexed.test(d))
      return false;
    for (OpOperand &operand : op->getOpOperands()) {
      if (!isa<MemRefType>(operand.get().getType()))
        continue;
      AffineMap map = op.getMatchingIndexingMap(&operand);
      bool plain = false;
      for (auto [i, e] : llvm::enumerate(map.getResults())) {
        if (auto dim = dyn_cast<AffineDimExpr>(e); dim && dim.getPosition() == d) {
          // Not an operand's contiguous dimension: slices of it would be a few elements of
          // every row, each slice reading all the rows.
          if (i + 1 == map.getNumResults())
            return false;
          plain = true;
        } else if (e.isFunctionOfDim(d)) {
          return false;
        }
      }
      if (!plain && op.isDpsInit(&operand))
        return false;
    }
    return true;
  };
  std::optional<unsigned> best;
  for (unsigned d = 0; d < loops; ++d)
    if (!ShapedType::isDynamic(ranges[d]) && ranges[d] >= 8 && usable(d) &&
        (!best || ranges[d] > ranges[*best]))
      best = d;
  if (best)
    return best;
  for (unsigned d = loops; d-- > 0;)
    if (ShapedType::isDynamic(ranges[d]) && usable(d))
      return d;
  return std::nullopt;
}

/// `t` with dimension `dim` dynamic and a strided layout of its own strides (a slice along
/// `dim` keeps them: an identity layout would derive them from the sizes) and a dynamic
/// offset; null when `t` has no strided form.
MemRefType sliceableType(MemRefType t, int64_t dim) {
  SmallVector<int64_t> shape(t.getShape());
  shape[dim] = ShapedType::kDynamic;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(getStridesAndOffset(t, strides, offset)))
    return nullptr;
  auto layout = StridedLayoutAttr::get(t.getContext(), ShapedType::kDynamic, strides);
  return MemRefType::get(shape, t.getElementType(), layout, t.getMemorySpace());
}

} // namespace

void prepareThreadedOps(ModuleOp module) {
  SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
  for (func::FuncOp f : functions) {
    linalg::LinalgOp op = soleLinalgOp(f);
    if (!op)
      continue;
    std::optional<unsigned> loop = chooseLoop(op);
    if (!loop)
      continue;
    // Its callers cast to the new argument types: every use must be a call.
    std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(f, module);
    if (!uses || llvm::any_of(*uses, [](const SymbolTable::SymbolUse &use) {
          return !isa<func::CallOp>(use.getUser());
        }))
      continue;
    // The position of the loop in each operand that is a function argument. An operand
    // indexed by the loop must be one (a slice narrows only the arguments), at one position.
    Block &body = f.getBody().front();
    SmallVector<int64_t> position(f.getNumArguments(), -1);
    bool sliceable = true;
    for (OpOperand &operand : op->getOpOperands()) {
      if (!isa<MemRefType>(operand.get().getType()))
        continue;
      AffineMap map = op.getMatchingIndexingMap(&operand);
      int64_t at = -1, uses = 0;
      for (auto [i, e] : llvm::enumerate(map.getResults()))
        if (auto dim = dyn_cast<AffineDimExpr>(e); dim && dim.getPosition() == *loop) {
          at = int64_t(i);
          ++uses;
        }
      if (at < 0)
        continue;
      auto arg = dyn_cast<BlockArgument>(operand.get());
      if (uses > 1 || !arg || arg.getOwner() != &body ||
          (position[arg.getArgNumber()] >= 0 && position[arg.getArgNumber()] != at)) {
        sliceable = false;
        break;
      }
      position[arg.getArgNumber()] = at;
    }
    if (!sliceable)
      continue;
    // Every output must be an argument (a slice writes its part of it).
    bool outputsOk = true;
    for (OpOperand &init : op.getDpsInitsMutable()) {
      auto arg = dyn_cast<BlockArgument>(init.get());
      outputsOk &= arg && arg.getOwner() == &body && position[arg.getArgNumber()] >= 0;
    }
    if (!outputsOk)
      continue;
    // The sliced arguments take sliceable types; callers cast to them.
    SmallVector<Type> argTypes(f.getArgumentTypes());
    for (auto [i, type] : llvm::enumerate(argTypes))
      if (position[i] >= 0)
        if (!(type = sliceableType(cast<MemRefType>(type), position[i]))) {
          sliceable = false;
          break;
        }
    if (!sliceable)
      continue;
    for (auto [arg, type] : llvm::zip(body.getArguments(), argTypes))
      arg.setType(type);
    f.setFunctionType(FunctionType::get(f.getContext(), argTypes, f.getResultTypes()));
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = cast<func::CallOp>(use.getUser());
      OpBuilder b(call);
      for (auto [operand, type] : llvm::zip(call->getOpOperands(), argTypes))
        if (operand.get().getType() != type)
          operand.set(b.create<memref::CastOp>(call.getLoc(), type, operand.get()));
    }
    // (first lowered slot, rank, position) of each sliced argument, an output's first.
    SmallVector<int64_t> split;
    int64_t slot = 0;
    SmallVector<int64_t> outputsFirst;
    for (OpOperand &init : op.getDpsInitsMutable())
      outputsFirst.push_back(cast<BlockArgument>(init.get()).getArgNumber());
    for (unsigned i = 0; i < f.getNumArguments(); ++i)
      if (!llvm::is_contained(outputsFirst, int64_t(i)))
        outputsFirst.push_back(i);
    SmallVector<int64_t> firstSlot(f.getNumArguments());
    for (unsigned i = 0; i < f.getNumArguments(); ++i) {
      firstSlot[i] = slot;
      slot += loweredArgumentSlots(argTypes[i]);
    }
    for (int64_t i : outputsFirst)
      if (position[i] >= 0)
        split.append({firstSlot[i], cast<MemRefType>(argTypes[i]).getRank(), position[i]});
    f->setAttr(kSplitAttr, DenseI64ArrayAttr::get(f.getContext(), split));
  }
}

LogicalResult spreadThreadedOps(ModuleOp module, ArrayRef<std::string> entryFunctions) {
  MLIRContext *ctx = module.getContext();
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  Type i32 = IntegerType::get(ctx, 32), i64 = IntegerType::get(ctx, 64);
  llvm::StringMap<LLVM::LLVMFuncOp> pieces;
  LLVM::LLVMFuncOp runWorkgroups;

  // `<op>_piece(ptr %args, ptr %scalars, i32 %begin, i32 %end)`: the op on [begin, end) of
  // its split loop, its arguments loaded from the struct %args points to.
  auto pieceOf = [&](LLVM::LLVMFuncOp op, ArrayRef<int64_t> split) {
    LLVM::LLVMFuncOp &piece = pieces[op.getSymName()];
    if (piece)
      return piece;
    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    Location loc = op.getLoc();
    auto fnType = op.getFunctionType();
    auto argsType = LLVM::LLVMStructType::getLiteral(ctx, fnType.getParams());
    piece = b.create<LLVM::LLVMFuncOp>(
        loc, (op.getSymName() + kPieceSuffix).str(),
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr, ptr, i32, i32}));
    piece.setLinkage(LLVM::Linkage::Internal);
    Block *entry = piece.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    Value args = entry->getArgument(0);
    Value begin = b.create<LLVM::ZExtOp>(loc, i64, entry->getArgument(2));
    Value end = b.create<LLVM::ZExtOp>(loc, i64, entry->getArgument(3));
    SmallVector<Value> values;
    for (auto [i, type] : llvm::enumerate(fnType.getParams())) {
      Value at = b.create<LLVM::GEPOp>(loc, ptr, argsType, args,
                                       ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
      values.push_back(b.create<LLVM::LoadOp>(loc, type, at));
    }
    Value count = b.create<LLVM::SubOp>(loc, end, begin);
    for (size_t k = 0; k + 2 < split.size(); k += 3) {
      int64_t first = split[k], rank = split[k + 1], pos = split[k + 2];
      Value &offset = values[first + 2];
      Value stride = values[first + 3 + rank + pos];
      offset = b.create<LLVM::AddOp>(loc, offset, b.create<LLVM::MulOp>(loc, begin, stride));
      values[first + 3 + pos] = count;
    }
    b.create<LLVM::CallOp>(loc, op, values);
    b.create<LLVM::ReturnOp>(loc, ValueRange());
    return piece;
  };

  // `<op>_spread(args...)`, the op's own signature: its slices on the runtime's threads when
  // the split loop has at least 2 indices and its largest split view enough elements, else the op
  // itself. One per op (the layers share it), so the entry points only change callee.
  llvm::StringMap<LLVM::LLVMFuncOp> spreads;
  auto spreadOf = [&](LLVM::LLVMFuncOp f, ArrayRef<int64_t> split) {
    LLVM::LLVMFuncOp &spread = spreads[f.getSymName()];
    if (spread)
      return spread;
    if (!runWorkgroups)
      runWorkgroups = getOrBuildRunWorkgroups(module);
    LLVM::LLVMFuncOp piece = pieceOf(f, split);
    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    Location loc = f.getLoc();
    spread = b.create<LLVM::LLVMFuncOp>(loc, (f.getSymName() + kSpreadSuffix).str(),
                                        f.getFunctionType());
    spread.setLinkage(LLVM::Linkage::Internal);
    // Kept out of the entry points, as the op itself is.
    spread->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
    Block *entry = spread.addEntryBlock(b);
    Block *threaded = b.createBlock(&spread.getBody());
    Block *alone = b.createBlock(&spread.getBody());
    b.setInsertionPointToStart(entry);
    auto args = entry->getArguments();
    // The split loop's extent, and the elements of the largest view that is split (a
    // reduction's input: a row max over [b, h, i, j] has only b * h * i outputs).
    Value extent = args[split[0] + 3 + split[2]];
    Value elements;
    for (size_t k = 0; k + 2 < split.size(); k += 3) {
      int64_t first = split[k], rank = split[k + 1];
      Value product = b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(1));
      for (int64_t d = 0; d < rank; ++d)
        product = b.create<LLVM::MulOp>(loc, product, args[first + 3 + d]);
      elements = !elements ? product
                           : b.create<LLVM::SelectOp>(
                                 loc,
                                 b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::sgt,
                                                        product, elements),
                                 product, elements);
    }
    Value two = b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(2));
    Value enough = b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(kMinElements));
    Value go = b.create<LLVM::AndOp>(
        loc, b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::sge, extent, two),
        b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::sge, elements, enough));
    auto argsType = LLVM::LLVMStructType::getLiteral(ctx, f.getFunctionType().getParams());
    Value one = b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(1));
    Value packed = b.create<LLVM::AllocaOp>(loc, ptr, argsType, one, /*alignment=*/8);
    b.create<LLVM::CondBrOp>(loc, go, threaded, alone);

    b.setInsertionPointToStart(threaded);
    for (auto [i, v] : llvm::enumerate(args)) {
      Value at = b.create<LLVM::GEPOp>(loc, ptr, argsType, packed,
                                       ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
      b.create<LLVM::StoreOp>(loc, v, at);
    }
    Value fn = b.create<LLVM::AddressOfOp>(loc, ptr, piece.getSymName());
    Value none = b.create<LLVM::ZeroOp>(loc, ptr);
    Value count = b.create<LLVM::TruncOp>(loc, i32, extent);
    b.create<LLVM::CallOp>(loc, runWorkgroups, ValueRange{fn, packed, none, count});
    b.create<LLVM::ReturnOp>(loc, ValueRange());

    b.setInsertionPointToStart(alone);
    b.create<LLVM::CallOp>(loc, f, ValueRange(entry->getArguments()));
    b.create<LLVM::ReturnOp>(loc, ValueRange());
    return spread;
  };

  for (const std::string &name : entryFunctions) {
    auto entry = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
    if (!entry || entry.isExternal())
      continue;
    entry.walk([&](LLVM::CallOp call) {
      std::optional<StringRef> callee = call.getCallee();
      if (!callee)
        return;
      auto f = module.lookupSymbol<LLVM::LLVMFuncOp>(*callee);
      if (!f || !f->hasAttr(kSplitAttr) || call.getNumResults() != 0)
        return;
      ArrayRef<int64_t> split = f->getAttrOfType<DenseI64ArrayAttr>(kSplitAttr).asArrayRef();
      if (split.size() < 3)
        return;
      call.setCallee(spreadOf(f, split).getSymName());
    });
  }
  return success();
}

} // namespace kiln
