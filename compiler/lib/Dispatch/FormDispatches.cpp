//===- FormDispatches.cpp - Grouping and outlining an entry point ---------===//
//
// An entry point in static linalg on tensors is cut into dispatches:
//
//   1. contraction groups: each contraction (named matmuls, generic contractions such as
//      attention's scores and weighted sum) with the structured op computing its accumulator's
//      start when it is that op's only user, and its elementwise epilogue when the epilogue is
//      the contraction's only user, through an identity map: the
//      `store(epilogue?(matmul(init?)))` shape of the CPU matmul schedule;
//   2. row-statistics groups: a reduction, the ops using its result, and a reduction over
//      those (layer norm's mean then variance, softmax's max then sum) stay together; any
//      other op starts its own group (gathers, standalone elementwise ops);
//   3. each group is outlined into `func.func private @<entry>_dispatch_<n>` (tensors in,
//      tensors out) and replaced by a func.call. Constants, tensor.empty and fills of them are
//      cloned into every dispatch that uses them; shape-only views (expand / collapse_shape,
//      reshape, cast) stay in the entry between calls when they cross dispatches (the buffer
//      is the same bytes) and are cloned into a dispatch when both ends are inside it. A layer
//      of a state buffer (a KV cache's `[l, ...]` slab) stays in the entry point too and is
//      the dispatch's operand, so that every layer's attention and append dispatches are the
//      same function (the schedule binds the layer's bytes); an append into the state is
//      first split into the append into that slab and the slab's write-back. Other static
//      slices (the last position of a sequence) and the views of them are cloned into every
//      dispatch that reads them, whose operand is then the sliced tensor: a view inside the
//      dispatch, never a copy. Pure scalar ops (a position read from an input) are cloned
//      likewise.
//
//===----------------------------------------------------------------------===//
#include "Utils.h"

#include "kiln/Dispatch/Dispatch.h"
#include "kiln/Dispatch/Passes.h"

#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

namespace kiln {
#define GEN_PASS_DEF_KILNFORMDISPATCHES
#define GEN_PASS_DEF_KILNEXTRACTDISPATCHES
#include "kiln/Dispatch/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace kiln::dispatch {

namespace {

bool isAllParallelGeneric(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  return generic && generic.getNumLoops() == generic.getNumParallelLoops();
}

/// The values an op reads: its operands and the values its regions capture from above.
SmallVector<Value> readValues(Operation *op) {
  llvm::SetVector<Value> values;
  for (Value v : op->getOperands())
    values.insert(v);
  for (Region &region : op->getRegions()) {
    llvm::SetVector<Value> above;
    getUsedValuesDefinedAbove(region, above);
    values.insert(above.begin(), above.end());
  }
  return values.takeVector();
}

/// How an op of the entry point is treated.
class Classifier {
public:
  /// Rematerialized in each dispatch that uses it: constants, tensor.empty, fills and views of
  /// them, and pure scalar computations (whose tensor operands, such as a position input,
  /// become dispatch operands).
  bool isCloneable(Operation *op) {
    if (!op)
      return false;
    auto it = cloneable.find(op);
    if (it != cloneable.end())
      return it->second;
    bool result = false;
    if (op->hasTrait<OpTrait::ConstantLike>() || isa<tensor::EmptyOp>(op))
      result = true;
    else if (isScalar(op))
      result = true;
    else if (isa<linalg::FillOp>(op) || isView(op))
      result = llvm::all_of(op->getOperands(),
                            [&](Value v) { return isCloneable(v.getDefiningOp()); });
    cloneable[op] = result;
    return result;
  }

  /// Computation that belongs to a dispatch.
  bool isCompute(Operation *op) {
    if (isView(op) || isStaticSlice(op) || isStateWriteBack(op) || isCloneable(op) ||
        isa<ParamRefOp, func::CallOp>(op) || op->hasTrait<OpTrait::IsTerminator>())
      return false;
    return true;
  }

private:
  static bool isScalar(Operation *op) {
    return op->getNumRegions() == 0 && isPure(op) && op->getNumResults() > 0 &&
           llvm::none_of(op->getResultTypes(), [](Type t) { return isa<ShapedType>(t); });
  }

public:

private:
  DenseMap<Operation *, bool> cloneable;
};

/// The op producing `v`, looking through views.
Operation *producerThroughViews(Value v) { return sourceThroughViews(v).getDefiningOp(); }

/// Whether `v` is a static slice, or a view of one, that is cloned into the dispatches reading
/// it: any but a layer of a state buffer, which is their operand.
bool isClonedSliceView(Value v) {
  Operation *slice = producerThroughViews(v);
  return isStaticSlice(slice) && !isStateSlab(slice);
}

/// Splits each append into one layer of a state buffer, `tensor.insert_slice %rows into
/// %state[l, 0, %p, 0] [1, B, S, E]`, into
///
///   %slab = tensor.extract_slice %state[l, 0, 0, 0] [1, B, P, E]       (isStateSlab)
///   %new = tensor.insert_slice %rows into %slab[0, %p, 0] [B, S, E]    (the append dispatch)
///   %state' = tensor.insert_slice %new into %state[l, 0, 0, 0] [1, B, P, E] (isStateWriteBack)
///
/// so that the append's dispatch reads and writes the layer's slab and not the layer index:
/// every layer's append is the same function. Its result stays tied to its operand
/// (tiedOperand), so it is still written in place, and the write-back is the same bytes.
void splitLayerAppends(Block &block) {
  for (Operation &op : llvm::make_early_inc_range(block)) {
    auto append = dyn_cast<tensor::InsertSliceOp>(&op);
    if (!append || isStateWriteBack(append) || !stateArgumentOf(append.getDest()))
      continue;
    RankedTensorType whole = append.getDestType();
    ArrayRef<int64_t> sizes = append.getStaticSizes();
    if (!whole.hasStaticShape() || whole.getRank() < 2 || !append.getSizes().empty() ||
        sizes[0] != 1 || ShapedType::isDynamic(append.getStaticOffsets()[0]) ||
        !append.hasUnitStride() || append.getSourceType().getShape() != sizes.drop_front())
      continue;
    OpBuilder b(append);
    Location loc = append.getLoc();
    SmallVector<OpFoldResult> slabOffsets(whole.getRank(), b.getIndexAttr(0));
    slabOffsets[0] = append.getMixedOffsets()[0];
    SmallVector<OpFoldResult> slabSizes = getAsIndexOpFoldResult(b.getContext(), whole.getShape());
    slabSizes[0] = b.getIndexAttr(1);
    SmallVector<OpFoldResult> unitStrides(whole.getRank(), b.getIndexAttr(1));
    auto slabType = RankedTensorType::get(whole.getShape().drop_front(), whole.getElementType());
    Value slab = b.create<tensor::ExtractSliceOp>(loc, slabType, append.getDest(), slabOffsets,
                                                  slabSizes, unitStrides);
    Value appended = b.create<tensor::InsertSliceOp>(
        loc, append.getSource(), slab, ArrayRef(append.getMixedOffsets()).drop_front(),
        ArrayRef(append.getMixedSizes()).drop_front(), ArrayRef(unitStrides).drop_front());
    Value writeBack = b.create<tensor::InsertSliceOp>(loc, appended, append.getDest(),
                                                      slabOffsets, slabSizes, unitStrides);
    append.replaceAllUsesWith(writeBack);
    append.erase();
  }
}

struct Grouping {
  std::vector<SmallVector<Operation *>> groups;
  DenseMap<Operation *, unsigned> groupOf;

  unsigned newGroup() {
    groups.emplace_back();
    return groups.size() - 1;
  }
  void add(unsigned g, Operation *op) {
    groups[g].push_back(op);
    groupOf[op] = g;
  }
};

Grouping groupOps(Block &block, Classifier &classes) {
  Grouping g;
  // 1. Contraction groups, claiming their init producers and epilogues first.
  for (Operation &op : block) {
    if (!isContraction(&op) || g.groupOf.count(&op))
      continue;
    auto linalgOp = cast<linalg::LinalgOp>(&op);
    unsigned id = g.newGroup();
    for (OpOperand &init : linalgOp.getDpsInitsMutable()) {
      Operation *def = init.get().getDefiningOp();
      if (def && classes.isCompute(def) && !g.groupOf.count(def) && def->hasOneUse() &&
          isa<linalg::LinalgOp>(def) && !hasReduction(def))
        g.add(id, def);
    }
    g.add(id, &op);
    if (op.getNumResults() != 1 || !op.getResult(0).hasOneUse())
      continue;
    OpOperand &use = *op.getResult(0).getUses().begin();
    Operation *user = use.getOwner();
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (generic && isAllParallelGeneric(user) && !g.groupOf.count(user) &&
        generic.getMatchingIndexingMap(&use).isIdentity() &&
        generic.getNumLoops() == cast<ShapedType>(op.getResult(0).getType()).getRank())
      g.add(id, user);
  }
  // 2. Row-statistics groups and single ops.
  int open = -1;
  DenseSet<Operation *> readsStatistic; // members of the open group reading a reduction of it
  auto memberOf = [&](Value v, int group) {
    Operation *def = producerThroughViews(v);
    auto it = def ? g.groupOf.find(def) : g.groupOf.end();
    return it != g.groupOf.end() && int(it->second) == group ? def : nullptr;
  };
  for (Operation &op : block) {
    if (!classes.isCompute(&op))
      continue;
    if (g.groupOf.count(&op)) {
      if (isContraction(&op))
        open = -1;
      continue;
    }
    bool joins = false, readsStat = false;
    if (open >= 0) {
      for (Value v : readValues(&op)) {
        Operation *member = memberOf(v, open);
        if (!member)
          continue;
        if (hasReduction(member))
          readsStat = true;
        // A reduction joins only over values derived from a statistic of the group (the
        // variance over centred values, the sum over exp(x - max)).
        if (!hasReduction(&op) || readsStatistic.contains(member))
          joins = true;
      }
    }
    if (!joins) {
      open = g.newGroup();
      readsStatistic.clear();
      readsStat = false;
    }
    g.add(open, &op);
    if (readsStat)
      readsStatistic.insert(&op);
  }
  // Program order within each group, groups ordered by their last op.
  for (auto &members : g.groups)
    llvm::sort(members, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  llvm::sort(g.groups, [](const auto &a, const auto &b) {
    return a.back()->isBeforeInBlock(b.back());
  });
  for (auto [i, members] : llvm::enumerate(g.groups))
    for (Operation *op : members)
      g.groupOf[op] = i;
  return g;
}

/// Whether `v` (a member's result) is read by anything outside `members`, looking through
/// views that only feed members.
bool usedOutside(Value v, const DenseSet<Operation *> &members) {
  for (Operation *user : v.getUsers()) {
    if (members.contains(user))
      continue;
    if (isView(user) && !usedOutside(user->getResult(0), members))
      continue;
    return true;
  }
  return false;
}

/// Views reading `v` that only feed members (dead once the members are outlined).
void collectInternalViews(Value v, const DenseSet<Operation *> &members,
                          SmallVectorImpl<Operation *> &views) {
  for (Operation *user : v.getUsers())
    if (isView(user) && !members.contains(user) && !usedOutside(user->getResult(0), members)) {
      views.push_back(user);
      collectInternalViews(user->getResult(0), members, views);
    }
}

/// Outlines one group into `@name` and replaces it by a call.
LogicalResult outline(ArrayRef<Operation *> members, StringRef name, StringRef entryName,
                      Classifier &classes, OpBuilder &moduleBuilder) {
  MLIRContext *ctx = moduleBuilder.getContext();
  Location loc = members.back()->getLoc();
  DenseSet<Operation *> memberSet(members.begin(), members.end());

  auto fn = moduleBuilder.create<func::FuncOp>(loc, name, FunctionType::get(ctx, {}, {}));
  fn.setPrivate();
  fn->setAttr(kDispatchAttr, StringAttr::get(ctx, entryName));
  Block *body = fn.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockBegin(body);
  IRMapping map;
  SmallVector<Value> operands;

  // The dispatch's value for `v` (read by a member): an internal value, a clone of a constant
  // or view, or a new argument.
  std::function<Value(Value)> resolve = [&](Value v) -> Value {
    if (Value mapped = map.lookupOrNull(v))
      return mapped;
    Operation *def = v.getDefiningOp();
    bool internalView = isView(def) && memberSet.contains(producerThroughViews(v));
    if (def && (classes.isCloneable(def) || internalView || isClonedSliceView(v))) {
      for (Value operand : def->getOperands())
        resolve(operand);
      Operation *clone = b.clone(*def, map);
      return clone->getResult(cast<OpResult>(v).getResultNumber());
    }
    operands.push_back(v);
    BlockArgument arg = body->addArgument(v.getType(), v.getLoc());
    map.map(v, arg);
    return arg;
  };
  for (Operation *op : members) {
    for (Value v : readValues(op))
      if (!memberSet.contains(v.getDefiningOp()))
        map.map(v, resolve(v));
    b.clone(*op, map);
  }
  SmallVector<Value> outputs, returned;
  for (Operation *op : members)
    for (Value r : op->getResults())
      if (usedOutside(r, memberSet)) {
        outputs.push_back(r);
        returned.push_back(map.lookup(r));
      }
  b.create<func::ReturnOp>(loc, returned);
  fn.setFunctionType(
      FunctionType::get(ctx, body->getArgumentTypes(), ValueRange(returned).getTypes()));
  if (outputs.empty())
    return members.back()->emitError("dispatch '") << name << "' computes nothing the entry uses";

  // The call, where the group's last op was.
  OpBuilder callBuilder(members.back());
  auto call = callBuilder.create<func::CallOp>(loc, fn, operands);
  for (auto [old, now] : llvm::zip(outputs, call.getResults()))
    old.replaceUsesWithIf(now, [&](OpOperand &use) {
      return !memberSet.contains(use.getOwner());
    });
  SmallVector<Operation *> dead;
  for (Operation *op : members)
    for (Value r : op->getResults())
      collectInternalViews(r, memberSet, dead);
  dead.append(members.begin(), members.end());
  for (Operation *op : dead)
    op->dropAllUses();
  for (Operation *op : llvm::reverse(dead))
    op->erase();
  return success();
}

/// Erases side-effect-free ops whose results are unused (computations nothing reads, constants
/// left behind by outlining).
void eraseDeadOps(Block &block) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
      if (isOpTriviallyDead(&op)) {
        op.erase();
        changed = true;
      }
  }
}

} // namespace

LogicalResult formDispatches(ModuleOp module, func::FuncOp entry, unsigned *numDispatches) {
  StringRef entryName = entry.getSymName();
  if (entry.isExternal() || !entry.getBody().hasOneBlock())
    return entry.emitError() << "entry point '" << entryName << "' must have one block";
  // Static shapes only.
  WalkResult walk = entry.walk([&](Operation *op) {
    for (Type t : op->getResultTypes())
      if (auto shaped = dyn_cast<ShapedType>(t); shaped && !shaped.hasStaticShape()) {
        op->emitError() << "entry point '" << entryName << "' has the dynamic shape " << t
                        << "; bind its dimensions first (kiln-specialize-shapes)";
        return WalkResult::interrupt();
      }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  for (Type t : entry.getArgumentTypes())
    if (auto shaped = dyn_cast<ShapedType>(t); shaped && !shaped.hasStaticShape())
      return entry.emitError() << "entry point '" << entryName << "' takes the dynamic shape "
                               << t << "; bind its dimensions first (kiln-specialize-shapes)";

  Block &block = entry.getBody().front();
  eraseDeadOps(block);
  splitLayerAppends(block);
  Classifier classes;
  for (Operation &op : block)
    if (auto call = dyn_cast<func::CallOp>(&op))
      return call.emitError() << "entry point '" << entryName
                              << "' calls another function; inline it first";
  Grouping grouping = groupOps(block, classes);

  OpBuilder moduleBuilder(module.getContext());
  moduleBuilder.setInsertionPointAfter(entry);
  for (auto [i, members] : llvm::enumerate(grouping.groups)) {
    std::string name = (entryName + "_dispatch_" + Twine(i)).str();
    if (module.lookupSymbol(name))
      return entry.emitError() << "symbol '" << name << "' already exists";
    if (failed(outline(members, name, entryName, classes, moduleBuilder)))
      return failure();
  }
  // Views and parameter references move after the calls producing their operands; constants
  // left without users go.
  if (!sortTopologically(&block))
    return entry.emitError("the outlined entry point has a cycle");
  eraseDeadOps(block);
  if (numDispatches)
    *numDispatches = grouping.groups.size();
  return success();
}

} // namespace kiln::dispatch

namespace {

struct KilnFormDispatchesPass : kiln::impl::KilnFormDispatchesBase<KilnFormDispatchesPass> {
  using KilnFormDispatchesBase::KilnFormDispatchesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> targets;
    for (func::FuncOp f : module.getOps<func::FuncOp>()) {
      if (f.isExternal() || f->hasAttr(kiln::dispatch::kDispatchAttr))
        continue;
      if (entries.empty() ? f.isPublic() : llvm::is_contained(entries, f.getSymName().str()))
        targets.push_back(f);
    }
    for (const std::string &e : entries)
      if (!module.lookupSymbol<func::FuncOp>(e)) {
        module.emitError() << "kiln-form-dispatches: no function '" << e << "'";
        return signalPassFailure();
      }
    for (func::FuncOp f : targets)
      if (failed(kiln::dispatch::formDispatches(module, f)))
        return signalPassFailure();
  }
};

struct KilnExtractDispatchesPass
    : kiln::impl::KilnExtractDispatchesBase<KilnExtractDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (Operation &op : llvm::make_early_inc_range(*module.getBody())) {
      auto f = dyn_cast<func::FuncOp>(&op);
      if (f && f->hasAttr(kiln::dispatch::kDispatchAttr)) {
        f.setPublic();
        continue;
      }
      op.erase();
    }
    SmallVector<StringAttr> names;
    for (NamedAttribute a : module->getDiscardableAttrs())
      if (a.getName().getValue().starts_with("kiln."))
        names.push_back(a.getName());
    for (StringAttr name : names)
      module->removeAttr(name);
  }
};

} // namespace
