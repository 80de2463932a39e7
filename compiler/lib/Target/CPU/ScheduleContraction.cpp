//===- ScheduleContraction.cpp - Schedule of batched contractions ---------===//
//
// Attention's scores (QK^T, [B, S, H, D] x [B, T, H, D] -> [B, H, S, T], then scale and mask)
// and weighted sum (PV, [B, H, S, T] x [B, T, H, D] -> [B, S, H, D], then division by the row
// sum) are linalg.generic contractions with batch dimensions. Any such contraction with one or
// two M, one N, one K and at most two batch dimensions is scheduled here. Two M dimensions come
// from grouped KV heads (LowerAttention.cpp): the G query heads sharing a KV head and the
// queries; the larger is the schedule's M, the other is tiled by one like a batch dimension
// (decode: the G heads are the rows of one contraction against their KV head's keys).
//
// 1. Normalization: the loops are interchanged to [lead..., m, n, k] (lead: the batch loops,
//    then the other M loop if any); when the right-hand
//    operand is not contiguous along N (K of QK^T is [T, D] per head), it is read through a
//    linalg.transpose into [batch..., K, N], packed per workgroup like the matmul's panel.
// 2. Workgroups: the root (the epilogue, or the contraction) is tiled with scf.forall into one
//    workgroup per batch index and row tile; the contraction, its init and the packing are fused
//    into each workgroup.
// 3. Registers: the workgroup tile is cut into regM x regN blocks (8 x 32 with AVX-512, 4 x 16
//    with AVX2), the contraction and its init fused into each (with an epilogue), K tiled by one,
//    and every block vectorized: outer products (broadcast + FMA) into accumulators that stay in
//    registers, the epilogue applied to them before the one store. A ragged N peels the block
//    loop. One row (decode's PV): up to 8 vectors of N per block.
// 4. Dot products: one query row against keys contiguous along K (decode's scores) skips the
//    pack; blocks of 8 keys each keep a vector accumulator along K (tile_reduction_using_for),
//    summed by one transposing reduction per block (sumRows), the epilogue applied to the
//    block's vector of scores.
//
//===----------------------------------------------------------------------===//
#include "Schedules.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::cpu {
namespace {

constexpr StringLiteral kContractAttr = "kiln.cpu.contraction";
constexpr StringLiteral kPackAttr = "kiln.cpu.pack";

bool hasStaticF32Operands(linalg::LinalgOp op) {
  for (Value v : op->getOperands()) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t || !t.hasStaticShape() || !t.getElementType().isF32())
      return false;
  }
  return true;
}

/// The product of a key-bounded contraction's body (PV with a run-time position,
/// LowerAttention.cpp): `out + select(j < L, a * b, 0)`. Returns the select, or null.
arith::SelectOp keyPredicate(linalg::LinalgOp op) {
  auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  if (!generic || !findKeyBound(generic) || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return nullptr;
  Block *body = generic.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getValues().front().getDefiningOp<arith::AddFOp>();
  if (!add)
    return nullptr;
  Value out = body->getArgument(2);
  Value other = add.getLhs() == out ? add.getRhs() : add.getRhs() == out ? add.getLhs() : Value();
  auto select = other ? other.getDefiningOp<arith::SelectOp>() : nullptr;
  if (!select)
    return nullptr;
  auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
  auto mul = select.getTrueValue().getDefiningOp<arith::MulFOp>();
  if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::ult ||
      !cmp.getLhs().getDefiningOp<linalg::IndexOp>() || !mul ||
      !matchPattern(select.getFalseValue(), m_AnyZeroFloat()))
    return nullptr;
  auto isArg = [&](Value v, unsigned i) { return v == body->getArgument(i); };
  if (!((isArg(mul.getLhs(), 0) && isArg(mul.getRhs(), 1)) ||
        (isArg(mul.getLhs(), 1) && isArg(mul.getRhs(), 0))))
    return nullptr;
  // Exactly index, cmpi, mulf, select, addf and the yield.
  if (std::distance(body->begin(), body->end()) != 6)
    return nullptr;
  return select;
}

/// The loops of a batched contraction in the order the schedule puts them: `lead` (tiled by
/// one: the batch loops, then with two M loops the smaller one), then m, n and k.
struct ContractionLoops {
  SmallVector<unsigned> lead;
  unsigned m, n, k;
  SmallVector<unsigned> order() const {
    SmallVector<unsigned> all(lead);
    all.append({m, n, k});
    return all;
  }
};

/// A contraction with one to two batch dimensions, one or two M dimensions (decode's one query
/// is a unit M) and single N and K dimensions, as ContractionLoops.
std::optional<ContractionLoops> contractionLoops(linalg::LinalgOp op) {
  FailureOr<linalg::ContractionDimensions> dims = linalg::inferContractionDims(op);
  if (failed(dims) || dims->batch.empty() || dims->batch.size() > 2 || dims->m.empty() ||
      dims->m.size() > 2 || dims->n.size() != 1 || dims->k.size() != 1)
    return std::nullopt;
  ContractionLoops loops;
  loops.lead.assign(dims->batch.begin(), dims->batch.end());
  loops.m = dims->m.back();
  if (dims->m.size() == 2) {
    // The larger M (ties: the later loop) is the schedule's M.
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    unsigned other = dims->m.front();
    if (ranges[other] > ranges[loops.m])
      std::swap(other, loops.m);
    loops.lead.push_back(other);
  }
  loops.n = dims->n.front();
  loops.k = dims->k.front();
  return loops;
}

/// A batched contraction (contractionLoops), possibly key-bounded (keyPredicate).
bool isBatchedContraction(linalg::LinalgOp op) {
  if (!isa<linalg::GenericOp, linalg::BatchMatmulOp>(op) || !op.hasPureTensorSemantics() ||
      op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || !hasStaticF32Operands(op) ||
      !(linalg::isaContractionOpInterface(op) || keyPredicate(op)))
    return false;
  return contractionLoops(op).has_value();
}

/// The elementwise op applied to the contraction's result, read through an identity map.
bool isEpilogueOf(linalg::GenericOp op, Operation *contraction) {
  if (op.getNumDpsInits() != 1 || op.getNumParallelLoops() != op.getNumLoops() ||
      !op.getIndexingMapsArray().back().isIdentity() || !op.hasPureTensorSemantics() ||
      op.getNumLoops() != cast<RankedTensorType>(contraction->getResult(0).getType()).getRank())
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return false;
  for (OpOperand *in : op.getDpsInputOperands())
    if (in->get() == contraction->getResult(0) && op.getMatchingIndexingMap(in).isIdentity())
      return true;
  return false;
}

/// Interchanges the loops to `loops.order()` ([lead..., m, n, k]) and packs a right-hand side
/// that is not contiguous along N. Returns the normalized op and its transpose (null when not
/// packed).
FailureOr<linalg::GenericOp> normalize(RewriterBase &rewriter, linalg::LinalgOp op,
                                       const ContractionLoops &loops, bool allowPack,
                                       linalg::TransposeOp &pack) {
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::GenericOp> generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  if (!*generic)
    generic = linalg::generalizeNamedOp(rewriter, op);
  if (failed(generic))
    return failure();
  generic = linalg::interchangeGenericOp(rewriter, *generic, loops.order());
  if (failed(generic))
    return failure();
  auto nb = static_cast<unsigned>(loops.lead.size());
  unsigned nLoop = nb + 1, kLoop = nb + 2;
  AffineMap rhsMap = generic->getIndexingMapsArray()[1];
  if (!allowPack || rhsMap.getNumResults() == 0 ||
      rhsMap.getDimPosition(rhsMap.getNumResults() - 1) == nLoop)
    return generic;
  // Pack B as [batch..., K, N] (its lead loops: the batch loops, not a second M): result dim
  // i = source dim perm[i].
  SmallVector<unsigned> want;
  for (unsigned l = 0; l < nb; ++l)
    if (rhsMap.getResultPosition(rewriter.getAffineDimExpr(l)))
      want.push_back(l);
  want.append({kLoop, nLoop});
  if (rhsMap.getNumResults() != want.size())
    return generic;
  SmallVector<int64_t> perm;
  for (unsigned l : want) {
    std::optional<unsigned> pos = rhsMap.getResultPosition(rewriter.getAffineDimExpr(l));
    if (!pos)
      return generic;
    perm.push_back(*pos);
  }
  Value rhs = generic->getDpsInputs()[1];
  auto rhsType = cast<RankedTensorType>(rhs.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(rhsType.getDimSize(p));
  rewriter.setInsertionPoint(*generic);
  Value empty = rewriter.create<tensor::EmptyOp>(generic->getLoc(), shape,
                                                 rhsType.getElementType());
  pack = rewriter.create<linalg::TransposeOp>(generic->getLoc(), rhs, empty, perm);
  SmallVector<AffineExpr> exprs;
  for (unsigned l : want)
    exprs.push_back(rewriter.getAffineDimExpr(l));
  SmallVector<AffineMap> maps = generic->getIndexingMapsArray();
  maps[1] = AffineMap::get(generic->getNumLoops(), 0, exprs, rewriter.getContext());
  rewriter.modifyOpInPlace(*generic, [&] {
    generic->setOperand(1, pack->getResult(0));
    generic->setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
  });
  return generic;
}

/// Decode's scores: one query row (M = 1) against a right-hand side that, like the left-hand
/// one, is contiguous along K (keys [T, H, D]: D innermost) and K a multiple of the vector.
/// Each output is then a dot product read straight from the operands, with no packing; returns
/// how many run side by side (the largest of 8, 4, 2, 1 dividing N), or 0 when the form does
/// not apply.
int64_t dotProductRows(linalg::LinalgOp op, const ContractionLoops &loops, int64_t lanes) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned m = loops.m, n = loops.n, k = loops.k;
  auto innermost = [&](AffineMap map, unsigned loop) {
    return map.getNumResults() != 0 &&
           map.getResults().back() == getAffineDimExpr(loop, map.getContext());
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (ranges[m] != 1 || ranges[k] % lanes != 0 || !innermost(maps[0], k) ||
      !innermost(maps[1], k) || !innermost(maps[2], n))
    return 0;
  for (int64_t rows : {8, 4, 2})
    if (ranges[n] % rows == 0)
      return rows;
  return 1;
}

/// Lets LLVM fuse the multiply and the add of a contraction's body into one FMA: the dot
/// products' partial sums are elementwise multiply-adds, which no contraction lowering turns
/// into vector.fma.
void allowFusedMultiplyAdd(linalg::GenericOp op) {
  auto contract = arith::FastMathFlagsAttr::get(op.getContext(), arith::FastMathFlags::contract);
  op.getBody()->walk([&](Operation *inner) {
    if (isa<arith::MulFOp, arith::AddFOp>(inner))
      cast<arith::ArithFastMathInterface>(inner)->setAttr(
          cast<arith::ArithFastMathInterface>(inner).getFastMathAttrName(), contract);
  });
}

/// The sums of `v.size()` vectors of `width` lanes (4 <= v.size() <= width, both powers of
/// two), as one vector with one lane per input: the transposing reduction of the dot products'
/// accumulators. Levels of pairwise sums (even + odd lanes of two vectors side by side): twice
/// within each 128-bit block of four lanes (shufps), which leaves one lane per input per block,
/// then with whole blocks as units (vperm2f128 / vshuff32x4) until one vector with one lane per
/// input is left. About three single-cycle instructions per input, instead of a horizontal
/// reduction (and an insertion) each.
Value sumRows(OpBuilder &b, Location loc, SmallVector<Value> v, int64_t width) {
  auto rows = static_cast<int64_t>(v.size());
  // even[i] indexes the concatenation of x and y; odd is even + delta.
  auto add = [&](Value x, Value y, ArrayRef<int64_t> even, int64_t delta) -> Value {
    SmallVector<int64_t> odd(even);
    for (int64_t &i : odd)
      i += delta;
    Value e = b.create<vector::ShuffleOp>(loc, x, y, even);
    Value o = b.create<vector::ShuffleOp>(loc, x, y, odd);
    return b.create<arith::AddFOp>(loc, e, o);
  };
  // Within blocks: lanes (0, 2) of x's block, then of y's (even; odd: (1, 3)).
  SmallVector<int64_t> inBlock;
  for (int64_t i = 0; i < width; ++i)
    inBlock.push_back((i % 4 < 2 ? 0 : width) + i / 4 * 4 + i % 2 * 2);
  // Blocks of four lanes: block 2j of the concatenation (even; odd: block 2j + 1).
  auto blockMask = [](int64_t resultWidth) {
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < resultWidth; ++i)
      mask.push_back(i / 4 * 8 + i % 4);
    return mask;
  };
  for (int level = 0; level < 2; ++level) {
    SmallVector<Value> next;
    for (size_t i = 0; i + 1 < v.size(); i += 2)
      next.push_back(add(v[i], v[i + 1], inBlock, 1));
    v = std::move(next);
  }
  while (v.size() > 1) {
    SmallVector<Value> next;
    for (size_t i = 0; i + 1 < v.size(); i += 2)
      next.push_back(add(v[i], v[i + 1], blockMask(width), 4));
    v = std::move(next);
  }
  Value sum = v.front();
  for (int64_t w = width / 2; w >= rows; w /= 2)
    sum = add(sum, sum, blockMask(w), 4);
  return sum;
}

/// Rewrites each `vector.multi_reduction <add>` along the innermost dimension of rows x lanes
/// (leading unit dimensions allowed) with 4 <= rows <= lanes, both powers of two, as
/// `sumRows` + the accumulator.
void sumRowsPairwise(func::FuncOp func) {
  SmallVector<vector::MultiDimReductionOp> reductions;
  func.walk([&](vector::MultiDimReductionOp op) { reductions.push_back(op); });
  for (vector::MultiDimReductionOp op : reductions) {
    VectorType type = op.getSourceVectorType();
    int64_t rank = type.getRank();
    SmallVector<bool> reduced = op.getReductionMask();
    if (op.getKind() != vector::CombiningKind::ADD || rank < 2 ||
        llvm::count(reduced, true) != 1 || !reduced.back() || type.isScalable() ||
        !llvm::all_of(type.getShape().drop_back(2), [](int64_t d) { return d == 1; }))
      continue;
    int64_t rows = type.getDimSize(rank - 2), width = type.getDimSize(rank - 1);
    if (rows < 4 || rows > width || !llvm::isPowerOf2_64(rows) || !llvm::isPowerOf2_64(width))
      continue;
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value matrix = b.create<vector::ShapeCastOp>(
        loc, VectorType::get({rows, width}, type.getElementType()), op.getSource());
    SmallVector<Value> v;
    for (int64_t r = 0; r < rows; ++r)
      v.push_back(b.create<vector::ExtractOp>(loc, matrix, r));
    Value sum = sumRows(b, loc, v, width);
    auto accType = cast<VectorType>(op.getAcc().getType());
    Value acc = b.create<vector::ShapeCastOp>(loc, sum.getType(), op.getAcc());
    Value result = b.create<arith::AddFOp>(loc, sum, acc);
    op.replaceAllUsesWith(b.create<vector::ShapeCastOp>(loc, accType, result).getResult());
    op.erase();
  }
}

std::string list(ArrayRef<int64_t> v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(v, os);
  return s;
}

} // namespace

LogicalResult scheduleBatchedContraction(func::FuncOp func, unsigned vectorBits, bool dump,
                                         bool &scheduled) {
  scheduled = false;
  SmallVector<bufferization::MaterializeInDestinationOp> stores;
  func.walk([&](bufferization::MaterializeInDestinationOp op) { stores.push_back(op); });
  SmallVector<linalg::LinalgOp> contractions;
  func.walk([&](linalg::LinalgOp op) {
    if (isBatchedContraction(op))
      contractions.push_back(op);
  });
  if (stores.size() != 1 || contractions.size() != 1 ||
      !contractions.front()->getResult(0).hasOneUse())
    return success();
  linalg::LinalgOp found = contractions.front();
  Operation *stored = stores.front().getSource().getDefiningOp();
  auto epilogue = dyn_cast_or_null<linalg::GenericOp>(stored);
  if (stored != found.getOperation() && (!epilogue || !isEpilogueOf(epilogue, found)))
    return success();
  if (stored == found.getOperation())
    epilogue = nullptr;

  // The key loop bounded at run time, as a loop of the normalized contraction
  // [batch..., m, n, k]: N (scores, marked in the epilogue) or K (PV, marked in the
  // contraction). Found before normalization, which rewrites linalg.index ops.
  ContractionLoops loops = *contractionLoops(found);
  SmallVector<unsigned> order = loops.order();
  auto normalizedLoop = [&](unsigned loop) -> std::optional<unsigned> {
    auto *it = llvm::find(order, loop);
    if (it == order.end())
      return std::nullopt;
    return static_cast<unsigned>(it - order.begin());
  };
  std::optional<unsigned> keyLoop;
  Value keyBound;
  auto foundGeneric = dyn_cast<linalg::GenericOp>(found.getOperation());
  if (std::optional<KeyBound> kb = foundGeneric ? findKeyBound(foundGeneric) : std::nullopt) {
    keyLoop = normalizedLoop(kb->loop);
    keyBound = kb->bound;
  } else if (epilogue) {
    if (std::optional<KeyBound> eb = findKeyBound(epilogue)) {
      keyLoop = normalizedLoop(found.getIndexingMapsArray().back().getDimPosition(eb->loop));
      keyBound = eb->bound;
    }
  }
  auto nb = static_cast<unsigned>(loops.lead.size());
  arith::SelectOp predicate = keyPredicate(found);
  if (keyBound && !keyBound.getDefiningOp())
    keyLoop.reset();
  if (keyLoop && *keyLoop != nb + 1 && *keyLoop != nb + 2)
    keyLoop.reset();
  if (predicate && keyLoop != nb + 2)
    return success(); // a predicated product the schedule cannot bound: one workgroup
  if (keyLoop)
    markKeyBound(keyBound);
  IRRewriter rewriter(func.getContext());
  if (predicate) {
    // PV's product is predicated on j < L; its K loop (tiled by one) stops exactly at L, so
    // within it the predicate always holds and the body becomes a plain contraction that
    // vectorizes as outer products.
    Operation *cmp = predicate.getCondition().getDefiningOp();
    Operation *index = cmp->getOperand(0).getDefiningOp();
    rewriter.replaceAllUsesWith(predicate.getResult(), predicate.getTrueValue());
    rewriter.eraseOp(predicate);
    rewriter.eraseOp(cmp);
    if (index->use_empty())
      rewriter.eraseOp(index);
  }
  int64_t lanes = vectorBits / 32;
  int64_t dotRows = predicate ? 0 : dotProductRows(found, loops, lanes);
  if (keyLoop && *keyLoop != nb + 1)
    dotRows = 0;
  linalg::TransposeOp pack;
  FailureOr<linalg::GenericOp> normalized =
      normalize(rewriter, found, loops, dotRows == 0, pack);
  if (failed(normalized))
    return predicate ? func.emitError("internal error: cannot normalize the contraction of "
                                      "dispatch '")
                           << func.getSymName() << "'"
                     : success();
  linalg::GenericOp op = *normalized;
  if (dotRows)
    allowFusedMultiplyAdd(op);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t m = ranges[nb], n = ranges[nb + 1];

  auto fill = op.getDpsInits()[0].getDefiningOp<linalg::LinalgOp>();
  if (fill && (!fill->getResult(0).hasOneUse() || !fill.hasPureTensorSemantics()))
    fill = nullptr;

  // Register block: as the matmul's (16 accumulators with AVX-512, 8 with AVX2), or
  // `dotRows` dot products side by side for one query row.
  int64_t rows = vectorBits >= 512 ? 8 : 4;
  int64_t tileM = m;
  for (int64_t t : {32, 16, 8})
    if (m > t && m % t == 0) {
      tileM = t;
      break;
    }
  int64_t regM = 1;
  for (int64_t r : {rows, int64_t(4), int64_t(2)})
    if (tileM % r == 0) {
      regM = r;
      break;
    }
  int64_t regN = n % (2 * lanes) == 0 ? 2 * lanes : n % lanes == 0 ? lanes
                 : n <= 2 * lanes   ? n
                                    : lanes;
  if (dotRows) {
    regN = dotRows;
  } else if (m == 1) {
    // One row (decode's PV): up to 8 vectors of N side by side, independent FMA chains that
    // hide the FMA latency, with each left-hand element loaded once.
    for (int64_t v : {8, 4, 2})
      if (n % (v * lanes) == 0) {
        regN = v * lanes;
        break;
      }
  }
  bool peel = n % regN != 0;
  // Loops over N stop at roundUp(L, regN): the pack's step must divide it.
  int64_t packN = n % lanes == 0 ? lanes : 1;
  bool boundN = keyLoop == nb + 1 && !peel && (!pack || regN % packN == 0);

  // Tile sizes along the root's dimensions (the epilogue's = the contraction's result dims).
  unsigned rootRank = epilogue ? epilogue.getNumLoops() : op.getNumLoops();
  AffineMap outMap = op.getIndexingMapsArray().back();
  SmallVector<int64_t> wgTiles(rootRank, 0), regTiles(rootRank, 0);
  for (unsigned i = 0; i < outMap.getNumResults(); ++i) {
    unsigned loop = epilogue ? outMap.getDimPosition(i) : i;
    if (loop < nb) {
      wgTiles[i] = 1;
    } else if (loop == nb) {
      wgTiles[i] = tileM;
      regTiles[i] = regM;
    } else if (loop == nb + 1) {
      regTiles[i] = regN;
    }
  }
  SmallVector<int64_t> kTiles(op.getNumLoops(), 0);
  kTiles[nb + 2] = 1;

  UnitAttr unit = rewriter.getUnitAttr();
  (epilogue ? epilogue.getOperation() : op.getOperation())->setAttr(kRootAttr, unit);
  op->setAttr(kContractAttr, unit);
  if (fill)
    fill->setAttr(kFillAttr, unit);
  if (pack)
    pack->setAttr(kPackAttr, unit);

  std::string s;
  llvm::raw_string_ostream os(s);
  auto fuse = [&](StringRef result, StringRef loop, StringRef what, StringRef into) {
    os << "  " << result << ", " << loop << " = transform.structured.fuse_into_containing_op "
       << what << " into " << into
       << " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  };
  os << matchAttr("%root", kRootAttr) << matchAttr("%c", kContractAttr);
  os << "  %t0, %wg = transform.structured.tile_using_forall %root tile_sizes ["
     << list(wgTiles) << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  std::string c0 = "%t0", wg = "%wg";
  if (epilogue) {
    fuse("%c0", "%wg1", "%c", "%wg");
    c0 = "%c0";
    wg = "%wg1";
  }
  if (fill) {
    os << matchAttr("%fill", kFillAttr);
    fuse("%fill0", "%wg2", "%fill", wg);
  }
  if (pack) {
    // Each workgroup packs its [K, N] panel of B once, in small blocks.
    os << matchAttr("%pk", kPackAttr);
    fuse("%pk0", "%wg3", "%pk", wg);
    int64_t kSize = ranges[nb + 2];
    SmallVector<int64_t> packTiles(pack.getInit().getType().getRank() - 2, 0);
    packTiles.push_back(kSize % 8 == 0 ? 8 : 1);
    packTiles.push_back(packN);
    os << "  %pk1, %pl0, %pl1 = transform.structured.tile_using_for %pk0 tile_sizes ["
       << list(packTiles)
       << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, "
          "!transform.any_op)\n";
  }
  os << "  %t1, %lm, %ln = transform.structured.tile_using_for %t0 tile_sizes ["
     << list(regTiles)
     << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)\n";
  std::string ln = "%ln";
  if (epilogue) {
    fuse("%c1", "%ln1", c0, "%ln");
    ln = "%ln1";
    if (fill)
      fuse("%fill1", "%ln2", "%fill0", ln);
  }
  if (peel)
    os << "  %lnf = transform.cast " << ln
       << " : !transform.any_op to !transform.op<\"scf.for\">\n"
          "  %lmain, %lrest = transform.loop.peel %lnf : (!transform.op<\"scf.for\">) -> "
          "(!transform.any_op, !transform.any_op)\n";
  os << matchAttr("%cs", kContractAttr);
  if (dotRows) {
    // Each of the block's dot products keeps a vector accumulator along K, reduced once.
    SmallVector<int64_t> laneTiles(op.getNumLoops(), 0);
    laneTiles[nb + 2] = lanes;
    os << "  %pfill, %partial, %combine, %lk = transform.structured.tile_reduction_using_for "
          "%cs by tile_sizes = ["
       << list(laneTiles)
       << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, "
          "!transform.any_op, !transform.any_op)\n";
  } else {
    os << "  %c2, %lk = transform.structured.tile_using_for %cs tile_sizes [" << list(kTiles)
       << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  }
  // Key loops stopped at the run-time bound between the tiling and the vectorization (a later
  // canonicalization may rebuild the loops and drop their marks).
  bool bounded = keyLoop.has_value();
  auto annotate = [&](StringRef loop, int64_t granule) {
    os << "  %g" << loop.drop_front() << " = transform.param.constant " << granule
       << " : i64 -> !transform.param<i64>\n"
          "  transform.annotate " << loop << " \"" << kKeyLoopAttr << "\" = %g"
       << loop.drop_front() << " : !transform.any_op, !transform.param<i64>\n";
  };
  if (keyLoop == nb + 1 && boundN) {
    annotate(ln, regN);
    if (pack)
      annotate("%pl1", regN);
  } else if (keyLoop == nb + 2) {
    annotate("%lk", 1);
  } else {
    bounded = false;
  }
  std::string tiling;
  if (bounded) {
    tiling = transformScript(s);
    s.clear();
  }
  os << "  %fv = transform.structured.vectorize_children_and_apply_patterns %f"
        " : (!transform.any_op) -> !transform.any_op\n"
        "  transform.apply_patterns to %fv {\n"
        "    transform.apply_patterns.tensor.fold_tensor_empty\n"
        "    transform.apply_patterns.vector.cast_away_vector_leading_one_dim\n"
        "  } : !transform.any_op\n"
        "  transform.apply_patterns to %fv {\n"
        "    transform.apply_patterns.vector.lower_contraction lowering_strategy = "
        "\"outerproduct\"\n"
        "    transform.apply_patterns.vector.transfer_permutation_patterns\n"
        "    transform.apply_patterns.vector.lower_masked_transfers\n"
        "    transform.apply_patterns.canonicalization\n"
        "  } : !transform.any_op\n";
  std::string script = transformScript(s);
  LogicalResult result = success();
  if (bounded) {
    unsigned count = 0;
    result = applySchedule(func, tiling, dump);
    Value bound = takeKeyBound(func);
    if (succeeded(result) && !bound)
      result = func.emitError("internal error: the key bound of dispatch '")
               << func.getSymName() << "' did not survive its schedule";
    if (succeeded(result))
      result = boundKeyLoops(func, bound, count);
    // PV's predicate was dropped: its K loop must have been bounded.
    if (succeeded(result) && predicate && count == 0)
      result = func.emitError("internal error: the key loop of dispatch '")
               << func.getSymName() << "' was not bounded";
  }
  if (succeeded(result))
    result = applySchedule(func, script, dump);
  if (succeeded(result) && dotRows)
    sumRowsPairwise(func);
  func.walk([&](Operation *o) {
    o->removeAttr(kRootAttr);
    o->removeAttr(kContractAttr);
    o->removeAttr(kFillAttr);
    o->removeAttr(kPackAttr);
    o->removeAttr(kKeyLoopAttr);
    o->removeAttr(kKeyBoundAttr);
  });
  sinkScalarReadsIntoWorkgroups(func);
  // Measured on grouped-head attention (kiln-hal-run --repeat 3000): -O2 code as fast as -O3's,
  // compiled in half the time.
  func->setAttr(kMaxOptLevelAttr, IntegerAttr::get(IntegerType::get(func.getContext(), 64), 2));
  scheduled = true;
  return result;
}

} // namespace kiln::cpu
