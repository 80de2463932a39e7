//===- Specialize.cpp - Binding symbolic dimensions to constants ----------===//
//
// Specialization happens at the kiln level, before the lowering: kiln ops infer their result
// types from their operands, so binding the signature and re-inferring op by op gives exact
// static types everywhere, and the lowering then emits static linalg directly (its tensor.dim
// fold to constants, tensor.empty and reshapes get static shapes). Specializing after the
// lowering would need every dynamic tensor.empty, tensor.reshape (whose shape is a runtime
// tensor) and gather to be re-derived from casts, which canonicalization does not do for all
// of them.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dispatch/Dispatch.h"
#include "kiln/Dispatch/Passes.h"

#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSPECIALIZESHAPES
#include "kiln/Dispatch/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace kiln::dispatch {

namespace {

/// The symbol of dynamic dimension `axis` (the `dynIndex`-th dynamic one) of a signature
/// value: from `kiln.dims`, or `<name>_<axis>` as the artifact exporter names it.
std::string dimSymbol(DictionaryAttr attrs, StringRef key, unsigned index, unsigned dynIndex,
                      unsigned axis) {
  if (attrs) {
    if (auto dims = attrs.getAs<ArrayAttr>("kiln.dims"))
      if (dynIndex < dims.size())
        if (auto s = dyn_cast<StringAttr>(dims[dynIndex]))
          return s.str();
    if (auto name = attrs.getAs<StringAttr>(key))
      return (name.getValue() + "_" + Twine(axis)).str();
  }
  return ("arg" + Twine(index) + "_" + Twine(axis)).str();
}

DictionaryAttr withoutDims(DictionaryAttr attrs) {
  if (!attrs)
    return attrs;
  SmallVector<NamedAttribute> kept;
  for (NamedAttribute a : attrs)
    if (a.getName() != "kiln.dims")
      kept.push_back(a);
  return DictionaryAttr::get(attrs.getContext(), kept);
}

bool isStatic(Type t) {
  auto shaped = dyn_cast<ShapedType>(t);
  return !shaped || shaped.hasStaticShape();
}

/// Whether `bias` is absent or a relative position bias of queries placed at `position`
/// against the keys of a KV-cache prefix appended at the same position (T5's decoder): its key
/// length is the cache's capacity once that prefix takes the static form.
bool isPositionedBias(Value bias, Value position) {
  if (!bias)
    return true;
  auto op = bias.getDefiningOp<RelativePositionBiasOp>();
  if (!op || op.getPosition() != position)
    return false;
  auto append = op.getKey().getDefiningOp<KVCacheAppendOp>();
  return append && op.getKey() == append.getPrefix() && append.getPosition() == position;
}

/// A KV-cache append's prefix has the data-dependent length `position + seq`; it takes the
/// static-capacity form (the layer's whole cache, unwritten slots hidden by attention's
/// position-aware causal mask) when every reader is such an attention with the same position
/// (whose bias, if any, is a relative position bias placed at that position), or such a bias
/// reading the prefix as its keys (only their number is used).
LogicalResult makeCapacityForm(KVCacheAppendOp op) {
  if (op.getCapacity())
    return success();
  if (op.getCache().getType().isDynamicDim(2))
    return op.emitError() << "the KV cache " << op.getCache().getType()
                          << " has a dynamic capacity; its prefix cannot be made static";
  for (OpOperand &use : op.getPrefix().getUses()) {
    if (auto bias = dyn_cast<RelativePositionBiasOp>(use.getOwner()))
      if (use.get() == bias.getKey() && use.get() != bias.getQuery() &&
          bias.getPosition() == op.getPosition())
        continue;
    auto attention = dyn_cast<AttentionOp>(use.getOwner());
    bool keyOrValue = attention && (use.get() == attention.getKey() ||
                                    use.get() == attention.getValue()) &&
                      use.get() != attention.getMask() && use.get() != attention.getBias();
    if (!keyOrValue || !attention.getCausal() || attention.getPosition() != op.getPosition() ||
        !isPositionedBias(attention.getBias(), op.getPosition()))
      return op.emitError()
             << "the prefix of a KV cache can be made static only when it is the key or value "
                "of a causal attention that is given the same position, without bias or with "
                "a relative position bias at that position (its mask then hides the unwritten "
                "cache slots); '"
             << use.getOwner()->getName() << "' reads it";
  }
  op.setCapacity(true);
  return success();
}

/// Shape arithmetic around tensor.extract_slice (a decoder's last position, `x[:, S - 1, :]`)
/// becomes static: tensor.dim of a static size and scalar ops on constants fold to constants,
/// and a slice whose sizes are then constant gets its static type. `op` may be erased.
LogicalResult foldShapeArithmetic(Operation *op) {
  OpBuilder b(op);
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    std::optional<int64_t> index = dim.getConstantIndex();
    auto type = dyn_cast<ShapedType>(dim.getSource().getType());
    if (index && type && type.hasRank() && *index < type.getRank() &&
        !type.isDynamicDim(*index)) {
      dim.replaceAllUsesWith(
          b.create<arith::ConstantIndexOp>(op->getLoc(), type.getDimSize(*index)).getResult());
      dim.erase();
    }
    return success();
  }
  if (isa<arith::ArithDialect>(op->getDialect()) && op->getNumResults() == 1 &&
      !op->hasTrait<OpTrait::ConstantLike>() &&
      llvm::all_of(op->getOperands(), [](Value v) { return matchPattern(v, m_Constant()); })) {
    SmallVector<OpFoldResult> folded;
    if (succeeded(op->fold(folded)) && folded.size() == 1)
      if (auto attr = dyn_cast<Attribute>(folded.front()))
        if (Operation *c = op->getDialect()->materializeConstant(
                b, attr, op->getResult(0).getType(), op->getLoc())) {
          op->getResult(0).replaceAllUsesWith(c->getResult(0));
          op->erase();
        }
    return success();
  }
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
    if (slice.getType().hasStaticShape() && slice.getOffsets().empty())
      return success();
    auto fold = [](SmallVector<OpFoldResult> values) {
      for (OpFoldResult &v : values)
        if (auto value = dyn_cast<Value>(v))
          v = getAsOpFoldResult(value);
      return values;
    };
    SmallVector<OpFoldResult> offsets = fold(slice.getMixedOffsets()),
                              sizes = fold(slice.getMixedSizes()),
                              strides = fold(slice.getMixedStrides());
    RankedTensorType type = tensor::ExtractSliceOp::inferCanonicalRankReducedResultType(
        slice.getType().getRank(), slice.getSourceType(), offsets, sizes, strides);
    auto replacement =
        b.create<tensor::ExtractSliceOp>(op->getLoc(), type, slice.getSource(), offsets, sizes,
                                         strides);
    slice.replaceAllUsesWith(replacement.getResult());
    slice.erase();
  }
  return success();
}

/// Re-infers the result types of `op` from its (already specialized) operands.
LogicalResult reinfer(Operation *op) {
  if (isa<func::ReturnOp>(op))
    return success();
  if (isa<func::CallOp>(op))
    return op->emitError("cannot specialize through a call; inline the callee first");
  if (isa<tensor::DimOp, tensor::ExtractSliceOp>(op) || isa<arith::ArithDialect>(op->getDialect()))
    return foldShapeArithmetic(op);
  if (llvm::all_of(op->getResultTypes(), isStatic))
    return success();
  if (auto append = dyn_cast<KVCacheAppendOp>(op))
    if (failed(makeCapacityForm(append)))
      return failure();
  // A cast to a less static type becomes the identity on the specialized operand.
  if (auto cast = dyn_cast<tensor::CastOp>(op)) {
    if (!tensor::CastOp::areCastCompatible(cast.getSource().getType(), cast.getType()))
      return op->emitError() << "cast from " << cast.getSource().getType() << " to "
                             << cast.getType() << " cannot hold for the bound sizes";
    cast.getResult().setType(cast.getSource().getType());
    return success();
  }
  auto infer = dyn_cast<InferTypeOpInterface>(op);
  if (!infer) {
    Type dynamic = *llvm::find_if(op->getResultTypes(), [](Type t) { return !isStatic(t); });
    if (isa<KilnDialect>(op->getDialect()))
      return op->emitError() << "'" << op->getName()
                             << "' has no type inference: its result type " << dynamic
                             << " cannot be made static";
    return op->emitError() << "cannot re-infer the result type " << dynamic << " of '"
                           << op->getName() << "'; specialize before lowering to linalg";
  }
  SmallVector<Type> types;
  if (failed(infer.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                    op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
                                    op->getRegions(), types)))
    return op->emitError("type inference failed for the static shapes");
  if (types.size() != op->getNumResults())
    return op->emitError("type inference returned the wrong number of results");
  for (auto [result, type] : llvm::zip(op->getResults(), types)) {
    if (!isStatic(type))
      return op->emitError() << "result type " << type << " stays dynamic after specialization";
    result.setType(type);
  }
  return success();
}

/// Keeps callers of `func` valid: operands are cast to the new static types and results back
/// to the types the caller expects.
void updateCallers(func::FuncOp func, ModuleOp module) {
  auto uses = SymbolTable::getSymbolUses(func, module);
  if (!uses)
    return;
  FunctionType type = func.getFunctionType();
  for (const SymbolTable::SymbolUse &use : *uses) {
    auto call = dyn_cast<func::CallOp>(use.getUser());
    if (!call)
      continue;
    OpBuilder b(call);
    for (auto [i, operand] : llvm::enumerate(call->getOperands()))
      if (i < type.getNumInputs() && operand.getType() != type.getInput(i))
        call->setOperand(i, b.create<tensor::CastOp>(call.getLoc(), type.getInput(i), operand));
    b.setInsertionPointAfter(call);
    for (auto [i, result] : llvm::enumerate(call->getResults())) {
      if (i >= type.getNumResults() || result.getType() == type.getResult(i))
        continue;
      Type old = result.getType();
      result.setType(type.getResult(i));
      auto cast = b.create<tensor::CastOp>(call.getLoc(), old, result);
      result.replaceAllUsesExcept(cast, cast);
    }
  }
}

} // namespace

std::vector<std::string> dynamicDimNames(func::FuncOp func) {
  std::vector<std::string> names;
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor)
      continue;
    unsigned dyn = 0;
    for (auto [axis, size] : llvm::enumerate(tensor.getShape()))
      if (ShapedType::isDynamic(size)) {
        std::string sym = dimSymbol(func.getArgAttrDict(i), "kiln.input", i, dyn++, axis);
        if (!llvm::is_contained(names, sym))
          names.push_back(sym);
      }
  }
  return names;
}

LogicalResult specializeShapes(func::FuncOp func, const llvm::StringMap<int64_t> &sizes) {
  if (func.isExternal())
    return func.emitError() << "entry point '" << func.getSymName() << "' has no body";
  MLIRContext *ctx = func.getContext();
  for (const auto &s : sizes)
    if (s.second <= 0)
      return func.emitError() << "dimension '" << s.first() << "' must have a positive size, got "
                              << s.second;

  // Bind every dynamic dimension of the inputs.
  llvm::StringSet<> used;
  Block &entry = func.getBody().front();
  SmallVector<Type> inputs;
  for (auto [i, arg] : llvm::enumerate(entry.getArguments())) {
    auto tensor = dyn_cast<RankedTensorType>(arg.getType());
    if (!tensor || tensor.hasStaticShape()) {
      inputs.push_back(arg.getType());
      continue;
    }
    SmallVector<int64_t> shape;
    unsigned dyn = 0;
    for (auto [axis, size] : llvm::enumerate(tensor.getShape())) {
      if (!ShapedType::isDynamic(size)) {
        shape.push_back(size);
        continue;
      }
      std::string sym = dimSymbol(func.getArgAttrDict(i), "kiln.input", i, dyn++, axis);
      auto it = sizes.find(sym);
      if (it == sizes.end())
        return func.emitError() << "dimension '" << sym << "' of entry point '"
                                << func.getSymName() << "' has no size (dims=" << sym << "=N)";
      used.insert(sym);
      shape.push_back(it->second);
    }
    auto type = RankedTensorType::get(shape, tensor.getElementType(), tensor.getEncoding());
    arg.setType(type);
    inputs.push_back(type);
  }
  for (const auto &s : sizes)
    if (!used.contains(s.first())) {
      std::string known;
      for (const auto &u : used)
        known += (known.empty() ? "" : ", ") + u.first().str();
      return func.emitError() << "'" << s.first() << "' is not a dynamic dimension of entry point '"
                              << func.getSymName() << "'"
                              << (known.empty() ? std::string(" (it has none)")
                                                : " (its dimensions: " + known + ")");
    }

  // Re-infer the body, op by op, in order (ops folded away on the way are erased).
  SmallVector<Operation *> ops;
  func.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) { ops.push_back(op); });
  for (Operation *op : ops)
    if (failed(reinfer(op)))
      return failure();

  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  func.setFunctionType(FunctionType::get(ctx, inputs, ret.getOperandTypes()));
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    if (DictionaryAttr attrs = func.getArgAttrDict(i))
      func.setArgAttrs(i, withoutDims(attrs));
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    if (DictionaryAttr attrs = func.getResultAttrDict(i))
      func.setResultAttrs(i, withoutDims(attrs));
  SmallVector<NamedAttribute> bound;
  for (const auto &s : sizes)
    bound.push_back(NamedAttribute(StringAttr::get(ctx, s.first()),
                                   IntegerAttr::get(IntegerType::get(ctx, 64), s.second)));
  func->setAttr(kStaticDimsAttr, DictionaryAttr::get(ctx, bound));
  if (auto module = func->getParentOfType<ModuleOp>())
    updateCallers(func, module);
  return success();
}

} // namespace kiln::dispatch

namespace {

struct KilnSpecializeShapesPass
    : kiln::impl::KilnSpecializeShapesBase<KilnSpecializeShapesPass> {
  using KilnSpecializeShapesBase::KilnSpecializeShapesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func) {
      module.emitError() << "kiln-specialize-shapes: no function '" << entry << "'";
      return signalPassFailure();
    }
    llvm::StringMap<int64_t> sizes;
    for (const std::string &d : dims) {
      auto [name, value] = StringRef(d).split('=');
      int64_t size;
      if (name.empty() || value.trim().getAsInteger(10, size)) {
        module.emitError() << "kiln-specialize-shapes: expected name=size in dims, got '" << d
                           << "'";
        return signalPassFailure();
      }
      if (!sizes.try_emplace(name.trim(), size).second) {
        module.emitError() << "kiln-specialize-shapes: dimension '" << name.trim()
                           << "' given twice";
        return signalPassFailure();
      }
    }
    if (failed(kiln::dispatch::specializeShapes(func, sizes)))
      return signalPassFailure();
  }
};

} // namespace
