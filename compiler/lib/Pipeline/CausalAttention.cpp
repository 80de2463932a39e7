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
//     iteration is leaving the output as it was.
//
// ThreadedOps never splits along a loop that `linalg.index` reads, so the query and key loops
// stay whole in every slice and the triangle stays intact.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dispatch/Dispatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;

namespace kiln {
namespace {

/// The query and key loops of a generic over the score space: the loops its operand `operand`
/// (score-shaped, [b, h..., i, j]) is indexed by at its last two dimensions.
struct ScoreLoops {
  linalg::GenericOp op;
  unsigned query, key;
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
  return ScoreLoops{op, q.getPosition(), k.getPosition()};
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
    for (ScoreLoops loops : *chain)
      yieldWithinTriangle(loops, limit);
    ++restricted;
  }
  return restricted;
}

unsigned boundTriangularLoops(ModuleOp module) {
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
    ++bounded;
  }
  return bounded;
}

} // namespace kiln
