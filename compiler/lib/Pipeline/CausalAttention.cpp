//===- CausalAttention.cpp - Causal attention of whole entry points over its triangle only -===//
//
// Attention lowers to six generics over the score space (LowerAttention.cpp): the scores
// contraction S = QK^T, the logits L (scale, bias, masks), the row max M, the exponentials E,
// the row sum Z and the contraction P = EV. With a causal mask, key j is hidden from query i
// when j > i + shift, and L sets it to the lowest float. An entry point compiled whole runs
// each generic over the full [queries, keys] rectangle: half of S's and P's work (and of the
// softmax) at a prefill from an empty cache is spent on entries that cannot matter.
//
// When there is no padding mask (causality alone never hides a whole row: the shift is the
// number of keys before the first query, T - S or a cache position, never negative), a
// hidden entry contributes nothing anywhere: S's value there is overwritten by L, L's lowest
// leaves M's max as it is, E is exactly 0 there (exp(lowest - m) underflows to 0 for a finite
// row max m), and adding 0 changes neither Z nor P. So, in two steps:
//
//  1. restrictCausalAttention (tensors, before bufferization): each generic of such a chain
//     yields `select(j < i + shift + 1, value, out)`, i.e. leaves its output as it was
//     outside the triangle. This is exact for the chain as a whole (the argument above), and
//     only the chain reads L and E.
//  2. boundTriangularLoops (buffers, outlined ops): a generic whose yield has that form is
//     lowered to loops here with its key loop stopped at i + shift + 1 (the select dropped:
//     within the bound it always takes `value`). This step is exact on its own: skipping an
//     iteration is leaving the output as it was. The two contractions (S and P) then let a
//     block of queries share each key row they read (shareKeyRows).
//
// ThreadedOps never splits along a loop that `linalg.index` reads, so the query and key loops
// stay whole in every slice and the triangle stays intact.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dispatch/Dispatch.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"

using namespace mlir;

namespace kiln {
namespace {

/// The query and key loops of a generic over the score space: the loops its operand `operand`
/// (score-shaped, [b, h..., i, j]) is indexed by at its last two dimensions.
struct ScoreLoops {
  linalg::GenericOp op;
  unsigned query, key;
  /// The score-shaped operand those loops index ([b, h..., i, j]).
  Value scores;
};

std::optional<ScoreLoops> scoreLoopsOf(linalg::GenericOp op, OpOperand &operand) {
  AffineMap map = op.getMatchingIndexingMap(&operand);
  unsigned n = map.getNumResults();
  if (n < 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  auto q = dyn_cast<AffineDimExpr>(map.getResult(n - 2));
  auto k = dyn_cast<AffineDimExpr>(map.getResult(n - 1));
  if (!q || !k || op.getIteratorTypesArray()[q.getPosition()] != utils::IteratorType::parallel)
    return std::nullopt;
  return ScoreLoops{op, q.getPosition(), k.getPosition(), operand.get()};
}

bool isDefinedOutside(Value v, Operation *op) {
  Operation *def = v.getDefiningOp();
  return def ? !op->isAncestor(def) : !op->isAncestor(v.getParentBlock()->getParentOp());
}

/// L's causal test alone (LowerAttention.cpp): `cmpi sgt, (index key), (addi (index query),
/// shift)` (or `(index query)` itself when the shift folded to 0) whose only use selects the
/// lowest float. With a padding mask the test is or-ed with it instead, and nothing matches.
/// Returns the shift, a null Value for 0.
std::optional<Value> causalShift(linalg::GenericOp logits, unsigned query, unsigned key) {
  std::optional<Value> shift;
  auto isQuery = [&](Value v) {
    auto i = v.getDefiningOp<linalg::IndexOp>();
    return i && i.getDim() == query;
  };
  logits.getBody()->walk([&](arith::CmpIOp cmp) {
    if (shift || cmp.getPredicate() != arith::CmpIPredicate::sgt || !cmp->hasOneUse())
      return;
    auto j = cmp.getLhs().getDefiningOp<linalg::IndexOp>();
    auto select = dyn_cast<arith::SelectOp>(*cmp->getUsers().begin());
    if (!j || j.getDim() != key || !select || select.getCondition() != cmp.getResult() ||
        !matchPattern(select.getTrueValue(), m_Constant()))
      return;
    if (isQuery(cmp.getRhs())) {
      shift = Value();
      return;
    }
    auto sum = cmp.getRhs().getDefiningOp<arith::AddIOp>();
    if (!sum)
      return;
    for (auto [a, b] : {std::pair(sum.getLhs(), sum.getRhs()), {sum.getRhs(), sum.getLhs()}})
      if (isQuery(a) && isDefinedOutside(b, logits))
        shift = b;
  });
  return shift;
}

template <typename OpT>
bool bodyHas(linalg::GenericOp op) {
  bool found = false;
  op.getBody()->walk([&](OpT) { found = true; });
  return found;
}

bool isReduction(linalg::GenericOp op, unsigned loop) {
  return op.getIteratorTypesArray()[loop] == utils::IteratorType::reduction;
}

/// The generic users of `value`, which must be exactly two.
std::optional<std::pair<linalg::GenericOp, linalg::GenericOp>> twoGenericUsers(Value value) {
  SmallVector<linalg::GenericOp> users;
  for (Operation *user : value.getUsers()) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || llvm::is_contained(users, generic))
      return std::nullopt;
    users.push_back(generic);
  }
  if (users.size() != 2)
    return std::nullopt;
  return std::pair(users[0], users[1]);
}

/// The six generics of one causal attention without a padding mask, each with its query and
/// key loops, when `logits` is its L; otherwise nothing.
std::optional<SmallVector<ScoreLoops>> matchCausalChain(linalg::GenericOp logits,
                                                        std::optional<Value> &shift) {
  if (logits.getNumDpsInputs() < 1 || logits.getNumReductionLoops() != 0 ||
      logits->getNumResults() != 1 ||
      !logits.getMatchingIndexingMap(logits.getDpsInputOperand(0)).isIdentity())
    return std::nullopt;
  std::optional<ScoreLoops> l = scoreLoopsOf(logits, *logits.getDpsInputOperand(0));
  if (!l || !(shift = causalShift(logits, l->query, l->key)))
    return std::nullopt;
  SmallVector<ScoreLoops> chain = {*l};

  // S: a contraction read by L alone.
  auto scores = logits.getDpsInputs()[0].getDefiningOp<linalg::GenericOp>();
  if (!scores || !scores->hasOneUse() || scores.getNumReductionLoops() != 1 ||
      !bodyHas<arith::MulFOp>(scores))
    return std::nullopt;
  std::optional<ScoreLoops> s = scoreLoopsOf(scores, *scores.getDpsInitOperand(0));
  if (!s || isReduction(scores, s->key))
    return std::nullopt;
  chain.push_back(*s);

  // M (row max of L) and E (exp of L minus M).
  auto lUsers = twoGenericUsers(logits->getResult(0));
  if (!lUsers)
    return std::nullopt;
  auto [rowMax, exps] = *lUsers;
  if (rowMax.getNumDpsInputs() == 2)
    std::swap(rowMax, exps);
  if (rowMax.getNumDpsInputs() != 1 || exps.getNumDpsInputs() != 2 ||
      exps.getDpsInputs()[0] != logits->getResult(0) ||
      exps.getDpsInputs()[1] != rowMax->getResult(0) || !bodyHas<arith::MaximumFOp>(rowMax) ||
      !bodyHas<math::ExpOp>(exps) || exps.getNumReductionLoops() != 0)
    return std::nullopt;
  std::optional<ScoreLoops> m = scoreLoopsOf(rowMax, *rowMax.getDpsInputOperand(0));
  std::optional<ScoreLoops> e = scoreLoopsOf(exps, *exps.getDpsInputOperand(0));
  if (!m || !e || !isReduction(rowMax, m->key))
    return std::nullopt;
  chain.append({*m, *e});

  // Z (row sum of E) and P (E times V).
  auto eUsers = twoGenericUsers(exps->getResult(0));
  if (!eUsers)
    return std::nullopt;
  auto [rowSum, weighted] = *eUsers;
  if (rowSum.getNumDpsInputs() == 2)
    std::swap(rowSum, weighted);
  if (rowSum.getNumDpsInputs() != 1 || weighted.getNumDpsInputs() != 2 ||
      weighted.getDpsInputs()[0] != exps->getResult(0) || !bodyHas<arith::AddFOp>(rowSum) ||
      !bodyHas<arith::MulFOp>(weighted))
    return std::nullopt;
  std::optional<ScoreLoops> z = scoreLoopsOf(rowSum, *rowSum.getDpsInputOperand(0));
  std::optional<ScoreLoops> p = scoreLoopsOf(weighted, *weighted.getDpsInputOperand(0));
  if (!z || !p || !isReduction(rowSum, z->key) || !isReduction(weighted, p->key))
    return std::nullopt;
  chain.append({*z, *p});
  return chain;
}

/// The generic's (single) yielded value becomes `select(key < query + limit, value, out)`.
void yieldWithinTriangle(ScoreLoops loops, Value limit) {
  Block *body = loops.op.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  OpBuilder b(yield);
  Location loc = yield.getLoc();
  Value i = b.create<linalg::IndexOp>(loc, loops.query);
  Value j = b.create<linalg::IndexOp>(loc, loops.key);
  Value end = b.create<arith::AddIOp>(loc, i, limit);
  Value inside = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, j, end);
  Value out = body->getArgument(loops.op.getNumDpsInputs());
  yield->setOperand(0, b.create<arith::SelectOp>(loc, inside, yield.getOperand(0), out));
}

/// A generic whose yield is `select(cmpi ult (index key), (addi (index query), limit)),
/// value, out)` with `limit` defined outside it and the query loop outside the key loop.
struct TriangularOp {
  unsigned query, key;
  Value limit;
};

std::optional<TriangularOp> matchTriangular(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 0)
    return std::nullopt;
  Block *body = op.getBody();
  auto select = body->getTerminator()->getOperand(0).getDefiningOp<arith::SelectOp>();
  if (!select || select.getFalseValue() != body->getArgument(op.getNumDpsInputs()))
    return std::nullopt;
  auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
  if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::ult)
    return std::nullopt;
  auto j = cmp.getLhs().getDefiningOp<linalg::IndexOp>();
  auto sum = cmp.getRhs().getDefiningOp<arith::AddIOp>();
  auto i = sum ? sum.getLhs().getDefiningOp<linalg::IndexOp>() : nullptr;
  if (!j || !i || i.getDim() >= j.getDim() || !isDefinedOutside(sum.getRhs(), op) ||
      op.getIteratorTypesArray()[i.getDim()] != utils::IteratorType::parallel)
    return std::nullopt;
  return TriangularOp{static_cast<unsigned>(i.getDim()),
                      static_cast<unsigned>(j.getDim()), sum.getRhs()};
}

/// With a run-time position p (keys read from a cache), LowerAttention also marks the key
/// bound L = p + S (S queries) in each generic of the chain: `select(cmpi ult (index key), L),
/// x, y)`. Within the triangle, key <= query + p < S + p = L, so once the generic yields
/// within the triangle only, such a select always takes x; it is dropped (it kept the
/// contraction P from fusing its multiply and add, and cost the softmax passes a compare and
/// a blend per key). L is recognised as `addi(shift, size)` of the causal test's own shift
/// and a size equal to the query loop's (ValueBoundsConstraintSet); anything else stays.
void dropImpliedKeyBound(ScoreLoops loops, Value shift) {
  if (!shift)
    return;
  Block *body = loops.op.getBody();
  unsigned rank = cast<ShapedType>(loops.scores.getType()).getRank();
  auto isQueryCount = [&](Value size) {
    FailureOr<bool> equal = ValueBoundsConstraintSet::areEqual(
        ValueBoundsConstraintSet::Variable(size),
        ValueBoundsConstraintSet::Variable(loops.scores, rank - 2));
    return succeeded(equal) && *equal;
  };
  SmallVector<arith::SelectOp> implied;
  body->walk([&](arith::SelectOp select) {
    auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
    if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::ult)
      return;
    auto j = cmp.getLhs().getDefiningOp<linalg::IndexOp>();
    auto bound = cmp.getRhs().getDefiningOp<arith::AddIOp>();
    if (!j || j.getDim() != loops.key || !bound || !isDefinedOutside(bound, loops.op))
      return;
    if ((bound.getLhs() == shift && isQueryCount(bound.getRhs())) ||
        (bound.getRhs() == shift && isQueryCount(bound.getLhs())))
      implied.push_back(select);
  });
  for (arith::SelectOp select : implied) {
    Operation *cmp = select.getCondition().getDefiningOp();
    select.replaceAllUsesWith(select.getTrueValue());
    select.erase();
    if (cmp->use_empty())
      cmp->erase();
  }
}

/// The loop nested alone in `loop`'s body (besides its terminator and ops that compute index
/// values for it), or null.
scf::ForOp onlyNestedLoop(scf::ForOp loop) {
  scf::ForOp nested;
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (auto f = dyn_cast<scf::ForOp>(op)) {
      if (nested)
        return nullptr;
      nested = f;
    } else if (!isa<arith::AddIOp, arith::MinSIOp, arith::ConstantOp>(op)) {
      return nullptr;
    }
  }
  return nested;
}

/// A loop that reads and writes one element of a buffer at indices it does not change (a
/// reduction into memory: `x = load B[idx]; ...; store f(x), B[idx]`, nothing else touching B)
/// carries that element as an iter_arg instead: loaded before the loop, stored after it. LLVM
/// finds this itself for one such loop, but not once several are fused (shareKeyRows).
/// Returns the loop that replaces `loop`, or `loop` unchanged.
scf::ForOp carryAccumulator(RewriterBase &rewriter, scf::ForOp loop) {
  if (!loop.getInitArgs().empty())
    return loop;
  SmallVector<memref::LoadOp> loads;
  SmallVector<memref::StoreOp> stores;
  bool other = false;
  loop.getBody()->walk([&](Operation *op) {
    if (auto l = dyn_cast<memref::LoadOp>(op))
      loads.push_back(l);
    else if (auto st = dyn_cast<memref::StoreOp>(op))
      stores.push_back(st);
    else if (!isMemoryEffectFree(op) && !isa<scf::YieldOp>(op))
      other = true;
  });
  if (other || stores.size() != 1)
    return loop;
  memref::StoreOp store = stores.front();
  if (store->getBlock() != loop.getBody() || store->getNextNode() != loop.getBody()->getTerminator())
    return loop;
  memref::LoadOp acc;
  for (memref::LoadOp l : loads)
    if (l.getMemRef() == store.getMemRef()) {
      if (acc || !llvm::equal(l.getIndices(), store.getIndices()) ||
          l->getBlock() != loop.getBody())
        return loop;
      acc = l;
    }
  if (!acc || !llvm::all_of(store.getIndices(), [&](Value v) {
        return isDefinedOutside(v, loop);
      }))
    return loop;
  Location loc = loop.getLoc();
  rewriter.setInsertionPoint(loop);
  Value init = rewriter.create<memref::LoadOp>(loc, store.getMemRef(), store.getIndices());
  auto carried = rewriter.create<scf::ForOp>(loc, loop.getLowerBound(), loop.getUpperBound(),
                                             loop.getStep(), ValueRange{init});
  IRMapping map;
  map.map(loop.getInductionVar(), carried.getInductionVar());
  map.map(acc.getResult(), carried.getRegionIterArgs()[0]);
  rewriter.setInsertionPointToStart(carried.getBody());
  for (Operation &op : loop.getBody()->without_terminator())
    if (&op != acc.getOperation() && &op != store.getOperation())
      rewriter.clone(op, map);
  rewriter.create<scf::YieldOp>(loc, map.lookup(store.getValueToStore()));
  rewriter.setInsertionPointAfter(carried);
  rewriter.create<memref::StoreOp>(loc, carried.getResult(0), store.getMemRef(),
                                   store.getIndices());
  rewriter.eraseOp(loop);
  return carried;
}

/// The innermost loop of P = EV: `out[.., i, .., d] += e[.., i, j] * v[.., j, .., d]` over d,
/// with d the last index of `out` and `v` (contiguous there) and absent from `e`'s.
struct RowUpdate {
  memref::LoadOp weight, row, acc;
  memref::StoreOp store;
  int64_t width;
};

/// Lanes of the vectors a RowUpdate is computed in (AVX2's f32), and vectors per d tile.
constexpr int64_t kRowLanes = 8, kRowVectors = 2;

std::optional<RowUpdate> matchRowUpdate(scf::ForOp inner, scf::ForOp queries,
                                        scf::ForOp keys) {
  std::optional<int64_t> lb = getConstantIntValue(inner.getLowerBound());
  std::optional<int64_t> ub = getConstantIntValue(inner.getUpperBound());
  if (!lb || !ub || *lb != 0 || *ub % (kRowLanes * kRowVectors) != 0 ||
      !matchPattern(inner.getStep(), m_One()))
    return std::nullopt;
  // Nothing but the three loads, the multiply, the add, the store and the yield.
  Block *body = inner.getBody();
  if (body->getOperations().size() != 7)
    return std::nullopt;
  auto store = dyn_cast<memref::StoreOp>(body->getTerminator()->getPrevNode());
  auto add = store ? store.getValueToStore().getDefiningOp<arith::AddFOp>() : nullptr;
  if (!add)
    return std::nullopt;
  auto acc = add.getLhs().getDefiningOp<memref::LoadOp>();
  auto mul = add.getRhs().getDefiningOp<arith::MulFOp>();
  if (!acc || !mul)
    return std::nullopt;
  auto weight = mul.getLhs().getDefiningOp<memref::LoadOp>();
  auto row = mul.getRhs().getDefiningOp<memref::LoadOp>();
  if (!weight || !row)
    return std::nullopt;
  Value d = inner.getInductionVar(), i = queries.getInductionVar();
  auto indexOk = [&](Value v) {
    return v == d || v == i || v == keys.getInductionVar() || isDefinedOutside(v, queries) ||
           (isa<BlockArgument>(v) &&
            cast<BlockArgument>(v).getOwner()->getParentOp()->isAncestor(queries));
  };
  auto lastIsD = [&](memref::LoadOp l) {
    auto type = cast<MemRefType>(l.getMemRef().getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    ValueRange idx = l.getIndices();
    return !idx.empty() && idx.back() == d && !llvm::is_contained(idx.drop_back(), d) &&
           succeeded(getStridesAndOffset(type, strides, offset)) && strides.back() == 1 &&
           type.getElementType().isF32();
  };
  for (memref::LoadOp l : {weight, row, acc})
    if (l->getBlock() != body || !llvm::all_of(l.getIndices(), indexOk))
      return std::nullopt;
  if (acc.getMemRef() != store.getMemRef() ||
      !llvm::equal(acc.getIndices(), store.getIndices()) || !lastIsD(acc) || !lastIsD(row) ||
      llvm::is_contained(weight.getIndices(), d) || llvm::is_contained(row.getIndices(), i) ||
      llvm::is_contained(acc.getIndices(), keys.getInductionVar()))
    return std::nullopt;
  return RowUpdate{weight, row, acc, store, *ub};
}

/// The block's shared keys of a RowUpdate as vector code: for each tile of kRowVectors x
/// kRowLanes columns of d, the block's output rows are carried in registers through the keys
/// (rows x kRowVectors accumulators), each value row loaded once for all of them.
void emitRowUpdates(RewriterBase &rewriter, Location loc, RowUpdate u,
                    scf::ForOp queries, scf::ForOp keys, scf::ForOp inner,
                    ArrayRef<Value> queryIvs, Value keyBegin, Value keyEnd) {
  auto vecType = VectorType::get({kRowLanes}, rewriter.getF32Type());
  int64_t tile = kRowLanes * kRowVectors, rows = queryIvs.size();
  Value zero = rewriter.create<arith::ConstantIndexOp>(loc, 0);
  Value width = rewriter.create<arith::ConstantIndexOp>(loc, u.width);
  Value tileStep = rewriter.create<arith::ConstantIndexOp>(loc, tile);
  auto tiles = rewriter.create<scf::ForOp>(loc, zero, width, tileStep);
  rewriter.setInsertionPointToStart(tiles.getBody());
  auto indices = [&](ValueRange idx, Value query, Value key, Value d) {
    IRMapping map;
    for (auto [from, to] : {std::pair(queries.getInductionVar(), query),
                            {keys.getInductionVar(), key}, {inner.getInductionVar(), d}})
      if (to)
        map.map(from, to);
    return llvm::map_to_vector(idx, [&](Value v) { return map.lookupOrDefault(v); });
  };
  SmallVector<Value> columns;
  for (int64_t v = 0; v < kRowVectors; ++v)
    columns.push_back(v == 0 ? tiles.getInductionVar()
                             : rewriter.create<arith::AddIOp>(
                                   loc, tiles.getInductionVar(),
                                   rewriter.create<arith::ConstantIndexOp>(loc, v * kRowLanes)));
  SmallVector<Value> init;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < kRowVectors; ++v)
      init.push_back(rewriter.create<vector::LoadOp>(
          loc, vecType, u.acc.getMemRef(),
          indices(u.acc.getIndices(), queryIvs[r], Value(), columns[v])));
  auto keyLoop = rewriter.create<scf::ForOp>(
      loc, keyBegin, keyEnd, keys.getStep(), init,
      [&](OpBuilder &b, Location l, Value key, ValueRange accs) {
        SmallVector<Value> valueRows;
        for (int64_t v = 0; v < kRowVectors; ++v)
          valueRows.push_back(b.create<vector::LoadOp>(
              l, vecType, u.row.getMemRef(),
              indices(u.row.getIndices(), Value(), key, columns[v])));
        SmallVector<Value> next;
        for (int64_t r = 0; r < rows; ++r) {
          Value w = b.create<memref::LoadOp>(
              l, u.weight.getMemRef(), indices(u.weight.getIndices(), queryIvs[r], key, Value()));
          Value splat = b.create<vector::BroadcastOp>(l, vecType, w);
          for (int64_t v = 0; v < kRowVectors; ++v)
            next.push_back(b.create<vector::FMAOp>(l, splat, valueRows[v],
                                                   accs[r * kRowVectors + v]));
        }
        b.create<scf::YieldOp>(l, next);
      });
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < kRowVectors; ++v)
      rewriter.create<vector::StoreOp>(
          loc, keyLoop.getResult(r * kRowVectors + v), u.store.getMemRef(),
          indices(u.store.getIndices(), queryIvs[r], Value(), columns[v]));
  rewriter.setInsertionPointAfter(tiles);
}

/// Contractions over the triangle (S = QK^T and P = EV, loops b, h..., i, j, d: the key loop j
/// right inside the query loop i, one loop over d inside it)
/// read one key row (of K or V) per (query, key) and use it once: every query re-reads its
/// keys from L2, and the loops ran at L2's bandwidth. Here `rows` queries at a time share each
/// key row: the query loop steps by `rows`, and for each key below the first query's bound the
/// `rows` innermost loops (one per query, each reading the same key row) are fused into one;
/// the few keys only the later queries see follow, one query at a time, and the last queries
/// (count % rows) keep the loops as they were. Every (query, key, d) iteration runs once, as
/// before, and each writes only its own query's outputs, so the order does not matter.
void shareKeyRows(RewriterBase &rewriter, scf::ForOp queries, scf::ForOp keys, Value limit) {
  scf::ForOp inner = onlyNestedLoop(keys);
  if (!inner || onlyNestedLoop(inner) || !queries.getInitArgs().empty() ||
      !keys.getInitArgs().empty() || !inner.getInitArgs().empty() ||
      keys.getBody()->getOperations().size() != 2 ||
      !matchPattern(queries.getStep(), m_One()) || !matchPattern(keys.getStep(), m_One()) ||
      !isDefinedOutside(keys.getLowerBound(), queries) ||
      !isDefinedOutside(inner.getLowerBound(), queries) ||
      !isDefinedOutside(inner.getUpperBound(), queries) ||
      !isDefinedOutside(inner.getStep(), queries))
    return;
  auto bound = keys.getUpperBound().getDefiningOp<arith::MinSIOp>();
  if (!bound || !isDefinedOutside(bound.getLhs(), queries))
    return;
  Value keyCount = bound.getLhs();
  // A reduction over d (S) keeps one scalar accumulator per query: 4 queries share each key
  // row. Rows of outputs (P) are carried in vector registers through the keys, 16 columns of
  // 4 queries at a time (8 accumulators), where d allows (emitRowUpdates); otherwise they
  // are updated in memory for each key, 2 queries at a time (4 were slower).
  inner = carryAccumulator(rewriter, inner);
  std::optional<RowUpdate> rowUpdate = matchRowUpdate(inner, queries, keys);
  int64_t rows = rowUpdate || !inner.getInitArgs().empty() ? 4 : 2;
  Location loc = queries.getLoc();
  rewriter.setInsertionPoint(queries);
  Value lb = queries.getLowerBound(), ub = queries.getUpperBound();
  Value step = rewriter.create<arith::ConstantIndexOp>(loc, rows);
  Value count = rewriter.create<arith::SubIOp>(loc, ub, lb);
  Value blocked = rewriter.create<arith::SubIOp>(
      loc, ub, rewriter.create<arith::RemSIOp>(loc, count, step));
  auto blocks = rewriter.create<scf::ForOp>(loc, lb, blocked, step);
  rewriter.setInsertionPointToStart(blocks.getBody());
  Value first = blocks.getInductionVar();
  // The block's queries, first + r.
  SmallVector<Value> queryIvs = {first};
  for (int64_t r = 1; r < rows; ++r)
    queryIvs.push_back(rewriter.create<arith::AddIOp>(
        loc, first, rewriter.create<arith::ConstantIndexOp>(loc, r)));
  // The key bound of query `first + r`: min(keys, first + r + limit).
  auto keyEnd = [&](int64_t r) -> Value {
    return rewriter.create<arith::MinSIOp>(
        loc, keyCount, rewriter.create<arith::AddIOp>(loc, queryIvs[r], limit));
  };
  Value shared = keyEnd(0);
  // The innermost loop with what surrounds it in the key loop's body (a carried
  // accumulator's load and store).
  auto cloneBody = [&](scf::ForOp into, Value query) -> scf::ForOp {
    IRMapping map;
    map.map(queries.getInductionVar(), query);
    map.map(keys.getInductionVar(), into.getInductionVar());
    scf::ForOp copy;
    for (Operation &op : keys.getBody()->without_terminator()) {
      Operation *c = rewriter.clone(op, map);
      if (&op == inner.getOperation())
        copy = cast<scf::ForOp>(c);
    }
    return copy;
  };
  // Keys every query of the block sees: rows of P carried in vector registers, or one fused
  // innermost loop.
  if (rowUpdate) {
    emitRowUpdates(rewriter, loc, *rowUpdate, queries, keys, inner, queryIvs,
                   keys.getLowerBound(), shared);
  } else {
    auto common =
        rewriter.create<scf::ForOp>(loc, keys.getLowerBound(), shared, keys.getStep());
    rewriter.setInsertionPointToStart(common.getBody());
    scf::ForOp fused;
    for (int64_t r = 0; r < rows; ++r) {
      scf::ForOp copy = cloneBody(common, queryIvs[r]);
      if (fused) {
        // The copy's accumulator load goes before the fused loop, the stores of the fused
        // loop's results after the copy (the two loops become one after the copy).
        if (Operation *load = copy.getInitArgs().empty()
                                  ? nullptr
                                  : copy.getInitArgs()[0].getDefiningOp())
          rewriter.moveOpBefore(load, fused);
        for (Operation *user : llvm::to_vector(fused->getUsers()))
          rewriter.moveOpBefore(user, common.getBody()->getTerminator());
        fused = fuseIndependentSiblingForLoops(fused, copy, rewriter);
      } else {
        fused = copy;
      }
      rewriter.setInsertionPoint(common.getBody()->getTerminator());
    }
    rewriter.setInsertionPointAfter(common);
  }
  // Keys only the later queries see.
  for (int64_t r = 1; r < rows; ++r) {
    auto tail = rewriter.create<scf::ForOp>(loc, shared, keyEnd(r), keys.getStep());
    rewriter.setInsertionPointToStart(tail.getBody());
    cloneBody(tail, queryIvs[r]);
    rewriter.setInsertionPointAfter(tail);
  }
  // The last queries as before.
  rewriter.modifyOpInPlace(queries, [&] { queries.getLowerBoundMutable().assign(blocked); });
}

} // namespace

unsigned restrictCausalAttention(func::FuncOp function) {
  SmallVector<linalg::GenericOp> candidates;
  function.walk([&](linalg::GenericOp op) {
    if (op.hasPureTensorSemantics())
      candidates.push_back(op);
  });
  unsigned restricted = 0;
  for (linalg::GenericOp logits : candidates) {
    std::optional<Value> shift;
    std::optional<SmallVector<ScoreLoops>> chain = matchCausalChain(logits, shift);
    if (!chain)
      continue;
    // limit = shift + 1, before the chain's first op (S).
    Operation *first = (*chain)[1].op;
    if (Value v = *shift) {
      Operation *def = v.getDefiningOp();
      if (v.getParentBlock() != first->getBlock() || (def && !def->isBeforeInBlock(first)))
        continue;
    }
    OpBuilder b(first);
    Location loc = logits.getLoc();
    Value one = b.create<arith::ConstantIndexOp>(loc, 1);
    Value limit = *shift ? b.create<arith::AddIOp>(loc, *shift, one).getResult() : one;
    for (ScoreLoops loops : *chain) {
      yieldWithinTriangle(loops, limit);
      dropImpliedKeyBound(loops, *shift);
    }
    ++restricted;
  }
  return restricted;
}

unsigned boundTriangularLoops(ModuleOp module) {
  module.getContext()->loadDialect<scf::SCFDialect, vector::VectorDialect>();
  SmallVector<std::pair<linalg::GenericOp, TriangularOp>> found;
  for (func::FuncOp f : module.getOps<func::FuncOp>()) {
    if (!f->hasAttr(dispatch::kOutlinedOpAttr))
      continue;
    f.walk([&](linalg::GenericOp op) {
      if (op.hasPureBufferSemantics())
        if (std::optional<TriangularOp> t = matchTriangular(op))
          found.emplace_back(op, *t);
    });
  }
  IRRewriter rewriter(module.getContext());
  unsigned bounded = 0;
  for (auto &[op, t] : found) {
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::LinalgLoops> loops = linalg::linalgOpToLoops(rewriter, op);
    if (failed(loops))
      continue; // lowered later as it is
    if (loops->size() != op.getNumLoops()) {
      if (!loops->empty())
        rewriter.eraseOp(loops->front());
      continue;
    }
    rewriter.eraseOp(op);
    // Loads and stores index the loops' variables through identity affine.apply ops, one
    // per access: use the variables themselves, so that equal indices are equal values.
    SmallVector<affine::AffineApplyOp> applies;
    (*loops)[0]->walk([&](affine::AffineApplyOp apply) {
      if (apply.getAffineMap().isIdentity() && apply.getMapOperands().size() == 1)
        applies.push_back(apply);
    });
    for (affine::AffineApplyOp apply : applies)
      rewriter.replaceOp(apply, apply.getMapOperands()[0]);
    auto outer = cast<scf::ForOp>((*loops)[t.query]);
    auto inner = cast<scf::ForOp>((*loops)[t.key]);
    rewriter.setInsertionPoint(inner);
    Location loc = inner.getLoc();
    Value end = rewriter.create<arith::AddIOp>(loc, outer.getInductionVar(), t.limit);
    inner.getUpperBoundMutable().assign(
        rewriter.create<arith::MinSIOp>(loc, inner.getUpperBound(), end));
    // Within the bound the select (the linalg.index ops now the loops' induction variables)
    // always takes its value.
    SmallVector<arith::SelectOp> selects;
    inner.walk([&](arith::SelectOp select) {
      auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
      auto sum = cmp ? cmp.getRhs().getDefiningOp<arith::AddIOp>() : nullptr;
      if (cmp && sum && cmp.getPredicate() == arith::CmpIPredicate::ult &&
          cmp.getLhs() == inner.getInductionVar() &&
          sum.getLhs() == outer.getInductionVar() && sum.getRhs() == t.limit)
        selects.push_back(select);
    });
    for (arith::SelectOp select : selects) {
      auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
      rewriter.replaceOp(select, select.getTrueValue());
      if (cmp->use_empty()) {
        Operation *sum = cmp.getRhs().getDefiningOp();
        rewriter.eraseOp(cmp);
        if (sum->use_empty())
          rewriter.eraseOp(sum);
      }
    }
    if (t.key == t.query + 1)
      shareKeyRows(rewriter, outer, inner, t.limit);
    ++bounded;
  }
  return bounded;
}

} // namespace kiln
