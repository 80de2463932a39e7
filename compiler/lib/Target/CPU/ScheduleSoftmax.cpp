//===- ScheduleSoftmax.cpp - Schedule of attention's softmax statistics ---===//
//
// With a run-time position, attention's softmax statistics (row max, exp, row sum over the
// keys of a cache's whole capacity) form one dispatch whose generics all carry the key bound
// on their last loop (LowerAttention.cpp), over loops (batch, heads..., queries, keys): one head
// loop, or two with grouped KV heads. This schedule is for that dispatch only, not a
// general row-reduction schedule (layer norms have their own): each generic is tiled along the
// key loop in vector-width tiles (inside loops over heads and blocks of 4 queries), the key
// tile loops stop at roundUp(L, width) (BoundLoops.cpp), and every tile is vectorized (the
// reductions become vector multi-reductions into the row accumulators). Its three generics depend
// on each other row by row but not across heads: the dispatch gets one workgroup per (KV) head,
// the row sums tiled over the first head loop with the exps and row max fused in (tileOverHeads).
//
//===----------------------------------------------------------------------===//
#include "Schedules.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::cpu {

/// One workgroup per head: the last generic (the row sums) is tiled with scf.forall over the
/// head loop (loop 1) and its producers (the exps, the row max, their inits) are fused into it;
/// the exps, which the dispatch also stores, are yielded by the forall (each head's tile is its
/// own). Leaves the dispatch as one workgroup when that does not take in every generic.
static void tileOverHeads(func::FuncOp func, ArrayRef<linalg::GenericOp> generics) {
  linalg::GenericOp last = generics.back();
  if (last.getIteratorTypesArray()[1] != utils::IteratorType::parallel ||
      last.getStaticLoopRanges()[1] < 2)
    return;
  MLIRContext *ctx = func.getContext();
  scf::SCFTilingOptions tiling;
  SmallVector<int64_t> tiles(last.getNumLoops(), 0);
  tiles[1] = 1;
  tiling.setTileSizes(getAsIndexOpFoldResult(ctx, tiles));
  tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
  scf::SCFTileAndFuseOptions options;
  options.setTilingOptions(tiling);
  options.setFusionControlFn([](tensor::ExtractSliceOp, OpResult producer, bool) {
    bool stored = llvm::any_of(producer.getUsers(), [](Operation *user) {
      return isa<bufferization::MaterializeInDestinationOp>(user);
    });
    return std::make_tuple(true, stored);
  });
  IRRewriter rewriter(ctx);
  rewriter.setInsertionPoint(last);
  FailureOr<scf::SCFTileAndFuseResult> fused = scf::tileConsumerAndFuseProducersUsingSCF(
      rewriter, cast<TilingInterface>(last.getOperation()), options);
  if (failed(fused))
    return;
  for (auto [original, replacement] : fused->replacements)
    rewriter.replaceAllUsesWith(original, replacement);
  // The untiled ops, consumers first.
  for (linalg::GenericOp generic : llvm::reverse(generics)) {
    SmallVector<Operation *> inits;
    for (Value init : generic.getDpsInits())
      if (Operation *def = init.getDefiningOp())
        inits.push_back(def);
    if (generic->use_empty())
      rewriter.eraseOp(generic);
    for (Operation *def : inits)
      if (def->use_empty() && isa<linalg::FillOp>(def))
        rewriter.eraseOp(def);
  }
}

LogicalResult scheduleSoftmax(func::FuncOp func, unsigned vectorBits, bool dump,
                              bool &scheduled) {
  scheduled = false;
  int64_t lanes = vectorBits / 32;
  SmallVector<linalg::GenericOp> generics;
  Value bound;
  bool other = false;
  func.walk([&](linalg::LinalgOp op) {
    auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
    if (isa<linalg::FillOp>(op))
      return;
    if (!generic || !generic.hasPureTensorSemantics()) {
      other = true;
      return;
    }
    std::optional<KeyBound> kb = findKeyBound(generic);
    unsigned last = generic.getNumLoops() - 1;
    SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
    bool ok = kb && kb->loop == last && (generic.getNumLoops() == 4 ||
                                         generic.getNumLoops() == 5) &&
              (!bound || kb->bound == bound) && !ShapedType::isDynamic(ranges[last]) &&
              ranges[last] % lanes == 0;
    for (Value v : generic->getOperands()) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      ok = ok && t && t.hasStaticShape() && t.getElementType().isF32();
    }
    if (!ok) {
      other = true;
      return;
    }
    bound = kb->bound;
    generics.push_back(generic);
  });
  bool reduces = llvm::any_of(generics, [](linalg::GenericOp g) {
    return g.getNumReductionLoops() == 1;
  });
  if (other || generics.empty() || !reduces || !markKeyBound(bound))
    return success();

  std::string body;
  llvm::raw_string_ostream os(body);
  os << "  %g = transform.param.constant " << lanes << " : i64 -> !transform.param<i64>\n";
  for (auto [i, generic] : llvm::enumerate(generics)) {
    std::string attr = "kiln.cpu.softmax_" + std::to_string(i);
    generic->setAttr(attr, UnitAttr::get(func.getContext()));
    // Loops over heads, row blocks (4 queries when they divide) and key tiles.
    unsigned loops = generic.getNumLoops();
    int64_t queries = generic.getStaticLoopRanges()[loops - 2];
    int64_t rowTile = queries % 4 == 0 ? 4 : 1;
    os << matchAttr("%s" + std::to_string(i), attr) << "  %t" << i;
    for (unsigned h = 1; h + 2 < loops; ++h)
      os << ", %h" << i << "_" << h;
    os << ", %r" << i << ", %l" << i << " = transform.structured.tile_using_for %s" << i
       << " tile_sizes [0, ";
    for (unsigned h = 1; h + 2 < loops; ++h)
      os << "1, ";
    os << rowTile << ", " << lanes << "] : (!transform.any_op) -> (!transform.any_op";
    for (unsigned h = 0; h + 1 < loops; ++h)
      os << ", !transform.any_op";
    os << ")\n"
          "  transform.annotate %l" << i << " \"" << kKeyLoopAttr
       << "\" = %g : !transform.any_op, !transform.param<i64>\n";
  }
  std::string tiling = transformScript(body);
  std::string vectorize =
      transformScript("  %fv = transform.structured.vectorize_children_and_apply_patterns %f"
                      " : (!transform.any_op) -> !transform.any_op\n"
                      "  transform.apply_patterns to %fv {\n"
                      "    transform.apply_patterns.tensor.fold_tensor_empty\n"
                      "    transform.apply_patterns.vector.cast_away_vector_leading_one_dim\n"
                      "  } : !transform.any_op\n"
                      "  transform.apply_patterns to %fv {\n"
                      "    transform.apply_patterns.vector.transfer_permutation_patterns\n"
                      "    transform.apply_patterns.canonicalization\n"
                      "  } : !transform.any_op\n");

  tileOverHeads(func, generics);
  LogicalResult result = applySchedule(func, tiling, dump);
  unsigned count = 0;
  if (succeeded(result)) {
    Value taken = takeKeyBound(func);
    if (!taken)
      result = func.emitError("internal error: the key bound of dispatch '")
               << func.getSymName() << "' did not survive its schedule";
    else
      result = boundKeyLoops(func, taken, count);
  }
  if (succeeded(result))
    result = applySchedule(func, vectorize, dump);
  stripScheduleMarkers(func);
  sinkScalarReadsIntoWorkgroups(func);
  func->setAttr(kMaxOptLevelAttr, IntegerAttr::get(IntegerType::get(func.getContext(), 64), 2));
  scheduled = true;
  return result;
}

} // namespace kiln::cpu
