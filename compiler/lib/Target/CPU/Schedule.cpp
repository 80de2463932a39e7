//===- Schedule.cpp - Tiling and vectorization schedules for dispatches ---===//
//
// Each dispatch gets a transform-dialect schedule chosen from its shape:
//
// * Matmul (a linalg.matmul, its accumulator initialized by a fill or another structured op,
//   optionally followed by one elementwise linalg.generic epilogue such as bias + GELU): the
//   root (epilogue or matmul) is tiled into workgroups with scf.forall over (M, N) tiles; the
//   matmul, its init and the packing of the workgroup's weight panel (a copy, or a transpose
//   for weights stored [N, K]) are fused into each tile; the tile is cut into register blocks
//   (8 x 32 with AVX-512, 4 x 16 with AVX2, one long row for decode), K is tiled by one, and
//   each block is vectorized so the accumulators stay in registers (contractions lower to outer
//   products = broadcast + FMA). A ragged N (not a multiple of the workgroup tile, GPT-2's lm
//   head) splits the dispatch into two independent static parts, the divisible columns and the
//   edge, each tiled this way with its own workgroups; a block that does not divide its tile
//   peels the block loop.
// * Decode against weights stored [N, K] (matmul_transpose_b, M <= 4, optionally followed by
//   the same elementwise epilogue; ScheduleMatvec.cpp): workgroups of 64 weight rows, 8 rows
//   streamed side by side as dot products along K; the epilogue is applied to the workgroup's
//   outputs.
// * Batched contractions (attention's QK^T and PV with their epilogues; ScheduleContraction.cpp):
//   workgroups over batch x heads x row tiles, the same register blocks.
// * Norms (layer norm, RMS norm; ScheduleNorm.cpp): one workgroup per row, vectorized along it.
// * Anything else runs as one workgroup; bufferization and loop lowering handle it.
//
// The schedule is generated as transform IR text, parsed and applied to the function; with
// CPUTargetOptions::dumpSchedules it is printed, so it can be replayed with mlir-opt.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"
#include "Schedules.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Interfaces/TransformInterfaces.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln::cpu {

static bool isElementwise2D(linalg::LinalgOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumLoops() != 2 ||
      op.getNumParallelLoops() != op.getNumLoops())
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return false;
  return op.getIndexingMapsArray().back().isIdentity();
}

/// The conversion of a weight stored in a narrower type to the f32 the kernels compute in:
/// `extf` from bf16, `sitofp` from int8 (quantized weights; the scales are applied by the
/// epilogue). The same op the linalg named ops put in their bodies.
static Value widenWeight(OpBuilder &b, Location loc, Type to, Value w) {
  if (isa<IntegerType>(w.getType()))
    return b.create<arith::SIToFPOp>(loc, to, w);
  return b.create<arith::ExtFOp>(loc, to, w);
}

/// The weight panel of a matmul whose weights are stored in a narrower type (bf16, int8)
/// [N, K]: `panel[k, n] = extf(w[n, k])` (or sitofp), a transpose that widens
/// (splitTransposedMatmuls).
static bool isWideningTranspose(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() != 2 || generic.getNumParallelLoops() != 2)
    return false;
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  if (!maps[1].isIdentity() || !maps[0].isPermutation() || maps[0].isIdentity())
    return false;
  Block *body = generic.getBody();
  Operation *ext = &body->front();
  return isa<arith::ExtFOp, arith::SIToFPOp>(ext) &&
         ext->getOperand(0) == body->getArgument(0) &&
         std::next(body->begin(), 2) == body->end() &&
         cast<linalg::YieldOp>(body->getTerminator()).getValues().front() == ext->getResult(0);
}

/// The elementwise epilogue `stored` of a contraction whose result `product` it reads directly,
/// through an identity map (bias, bias + GELU, residual add); null if it is not one.
linalg::LinalgOp matchEpilogue(Operation *stored, Value product) {
  auto epilogue = dyn_cast_or_null<linalg::LinalgOp>(stored);
  if (!epilogue || !epilogue.hasPureTensorSemantics() || !isElementwise2D(epilogue) ||
      !product.hasOneUse())
    return nullptr;
  for (OpOperand *in : epilogue.getDpsInputOperands())
    if (in->get() == product && epilogue.getMatchingIndexingMap(in).isIdentity())
      return epilogue;
  return nullptr;
}

/// Recognizes `store(epilogue?(matmul(fill?)))` with static shapes.
static std::optional<MatmulDispatch> matchMatmul(func::FuncOp func) {
  SmallVector<bufferization::MaterializeInDestinationOp> stores;
  func.walk([&](bufferization::MaterializeInDestinationOp op) { stores.push_back(op); });
  SmallVector<linalg::MatmulOp> matmuls;
  func.walk([&](linalg::MatmulOp op) { matmuls.push_back(op); });
  if (stores.size() != 1 || matmuls.size() != 1)
    return std::nullopt;
  MatmulDispatch d;
  d.matmul = matmuls.front();
  if (!d.matmul.hasPureTensorSemantics())
    return std::nullopt;
  auto aType = dyn_cast<RankedTensorType>(d.matmul.getDpsInputs()[0].getType());
  auto bType = dyn_cast<RankedTensorType>(d.matmul.getDpsInputs()[1].getType());
  if (!aType || !bType || !aType.hasStaticShape() || !bType.hasStaticShape() ||
      !aType.getElementType().isF32() || !bType.getElementType().isF32())
    return std::nullopt;
  d.m = aType.getDimSize(0);
  d.k = aType.getDimSize(1);
  d.n = bType.getDimSize(1);
  if (!d.matmul->getResult(0).hasOneUse())
    return std::nullopt;
  // The accumulator's initial value: a fill, or any structured op (a broadcast bias), fused
  // into each workgroup like the matmul.
  d.fill = d.matmul.getDpsInits()[0].getDefiningOp<linalg::LinalgOp>();
  if (d.fill && (!d.fill->getResult(0).hasOneUse() || !d.fill.hasPureTensorSemantics()))
    return std::nullopt;
  d.transpose = d.matmul.getDpsInputs()[1].getDefiningOp<linalg::LinalgOp>();
  if (d.transpose && (!(isa<linalg::TransposeOp, linalg::CopyOp>(d.transpose) ||
                        isWideningTranspose(d.transpose)) ||
                      !d.transpose->getResult(0).hasOneUse()))
    d.transpose = nullptr;
  Operation *stored = stores.front().getSource().getDefiningOp();
  if (stored == d.matmul.getOperation())
    return d;
  d.epilogue = matchEpilogue(stored, d.matmul->getResult(0));
  if (!d.epilogue)
    return std::nullopt;
  return d;
}

/// The largest weight panel (K x tileN floats) a workgroup packs: it stays in the 512 KiB L2
/// of this machine kind beside a slice of the activations.
constexpr int64_t kPanelBytes = 384 * 1024;

constexpr int64_t kCacheLineBytes = 64;

/// What the schedules need to know about the target's vectors.
struct VectorTarget {
  unsigned bits = 256;
  /// Weight panels are transposed in 8 x 8 blocks with the AVX2 recipe (any CPU with AVX,
  /// 512-bit schedules included), else in blocks of one vector's lanes, element-wise.
  bool avx2Transposes = false;
};

/// Tile sizes of a matmul dispatch.
struct MatmulTiles {
  int64_t lanes, regM, regN, tileM, tileN;
  /// Width of the blocks a transposed weight panel is packed in: 8 where the AVX2 recipe
  /// transposes them (VectorTarget::avx2Transposes), else `lanes`.
  int64_t packLanes;
  /// The workgroup packs and computes its columns one register block wide at a time
  /// (matmulGroupedTiling).
  bool columnGroups = false;
};

static MatmulTiles pickMatmulTiles(const MatmulDispatch &d, const VectorTarget &target) {
  unsigned vectorBits = target.bits;
  // Register block (f32 lanes per register: 16 with AVX-512, 8 with AVX2). AVX-512 has 32
  // registers: 8 rows x 2 registers = 16 accumulators. AVX2 has 16: 4 rows x 2 registers, or
  // 6 rows where the tile allows (below). (A 4 x 24 block would have 12 accumulators too, but
  // vector<4x24xf32> is not a native width and LLVM scalarized it: 6 GFLOP/s.)
  // Fewer rows than a block get one long row: the kernel streams the weights and FLOPs are
  // cheap.
  int64_t lanes = vectorBits / 32;
  bool wide = vectorBits >= 512;
  int64_t rows = wide ? 8 : 4;
  int64_t regM = d.m % rows == 0 ? rows : d.m % 4 == 0 ? 4 : d.m % 2 == 0 ? 2 : 1;
  int64_t regN = regM >= 4 ? 2 * lanes : 4 * lanes;
  // Workgroup tile: up to 128 rows, so that a prefill chunk of up to 128 tokens packs each
  // weight panel once (the rows of A stream through the register blocks once per panel and
  // need not stay in cache); 4 register blocks wide, narrowed below so that the K x tileN
  // panel stays in L2 (kPanelBytes).
  int64_t tileM = std::min<int64_t>(d.m, 128);
  tileM = tileM - tileM % regM;
  if (tileM == 0)
    tileM = regM;
  int64_t tileN = 4 * regN;
  // A deep K (the MLP's down projection, K = 3072) would make a 768 KiB panel: halve the tile
  // until the panel fits in L2 beside the activations. With column groups (below) the panel is
  // K x regN whatever the tile, and this only sets the workgroup's width: the down projection's
  // column groups were measured at the 32 columns it gives.
  while (tileN > regN && d.k * tileN * 4 > kPanelBytes && d.n % (tileN / 2) == 0)
    tileN /= 2;
  if (d.n % tileN != 0 && d.n % regN == 0)
    tileN = regN;
  tileN = std::min(tileN, d.n);
  regN = std::min(regN, tileN);
  // With AVX2's 16 registers, 6 rows x 2 registers (12 accumulators, 2 B vectors, a
  // broadcast) keep both FMA pipes busier than 4 x 2 (8 accumulators: exactly the FMA latency
  // times the pipes, no slack for a late load). The tile keeps its rows; the last, shorter
  // block (2 rows of 128, 4 of 64) is peeled and has static shapes too (matmulTiling).
  if (!wide && regM == 4 && d.m % tileM == 0 && tileM >= 12 && d.n % tileN == 0 &&
      tileN % regN == 0 && regN == 2 * lanes)
    regM = 6;
  // Weights stored [N, K] are packed one register block of columns at a time, in BLIS's
  // micro-panel order (matmulGroupedTiling). The workgroup's rows of A are read again for each
  // group, from L3 where they do not fit L2 (the down projection's 64 x 3072): each group still
  // does 8 FLOPs per byte of A (16 with AVX-512), and its K x regN micro-panel leaves room in
  // L2 for the next group's weights to be read ahead, which a whole K x tileN panel did not.
  bool columnGroups = d.transpose && !isa<linalg::CopyOp>(d.transpose) && d.n % tileN == 0 &&
                      tileN % regN == 0 && tileN > regN && regN * 4 % kCacheLineBytes == 0 &&
                      d.m % tileM == 0;
  int64_t packLanes = target.avx2Transposes ? 8 : lanes;
  return {lanes, regM, regN, tileM, tileN, packLanes, columnGroups};
}

/// Appends `sfx` to every SSA name but %f and to every matched attribute of a schedule body, so
/// that the schedules of several parts of one dispatch can share one script.
std::string withSuffix(StringRef body, StringRef sfx) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    out += body[i];
    bool ssa = body[i] == '%';
    bool attr = body.substr(i + 1).starts_with("attributes{");
    if (attr) {
      out += body.substr(i + 1, 11).str();
      i += 11;
    }
    if (!ssa && !attr)
      continue;
    size_t j = i + 1;
    while (j < body.size() && (isalnum(body[j]) || body[j] == '_' || body[j] == '.'))
      ++j;
    StringRef name = body.slice(i + 1, j);
    out += name.str();
    if (!(ssa && name == "f"))
      out += sfx.str();
    i = j - 1;
  }
  return out;
}

/// Peels the last register block of the row loop `%lm`, which does not divide the tile's rows
/// (pickMatmulTiles), then folds that block's single iteration away and its sizes to constants
/// so that it vectorizes like the others; `%mms` then holds every block's matmul.
static std::string peelLastRowBlock() {
  return "  %lmf = transform.cast %lm : !transform.any_op to !transform.op<\"scf.for\">\n"
         "  %lmmain, %lmrest = transform.loop.peel %lmf : (!transform.op<\"scf.for\">) -> "
         "(!transform.any_op, !transform.any_op)\n"
         "  %lmwg = transform.get_parent_op %lmrest {op_name = \"scf.forall\"} : "
         "(!transform.any_op) -> !transform.any_op\n"
         "  transform.apply_patterns to %lmwg {\n"
         "    transform.apply_patterns.canonicalization\n"
         "  } : !transform.any_op\n" +
         matchAttr("%mms", kMatmulAttr);
}

/// The tiling of a matmul whose workgroup goes through its columns one register block wide at
/// a time (MatmulTiles::columnGroups; weights stored [N, K], static tiles): each group packs
/// its K x regN panel (BLIS's micro-panel: each K step one 64-byte line, written and then read
/// in order) and runs the register blocks down the tile's rows on it, accumulating in the
/// workgroup's tile; an epilogue then runs over the tile in blocks of its own. (Fused into the
/// groups' row blocks instead, with the last block peeled, the vectorizer's clean-ups dropped
/// the other blocks' loop: wrong results.)
static std::string matmulGroupedTiling(const MatmulDispatch &d, const MatmulTiles &t) {
  int64_t regM = t.regM, regN = t.regN, tileM = t.tileM, tileN = t.tileN;
  std::string s;
  llvm::raw_string_ostream os(s);
  const char *pair = " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, "
                     "!transform.any_op)\n";
  const char *single = " : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  const char *triple = " : (!transform.any_op) -> (!transform.any_op, !transform.any_op, "
                       "!transform.any_op)\n";
  os << matchAttr("%root", kRootAttr) << matchAttr("%mm", kMatmulAttr);
  if (d.fill)
    os << matchAttr("%fill", kFillAttr);
  os << "  %t0, %wg = transform.structured.tile_using_forall %root tile_sizes [" << tileM
     << ", " << tileN << "]" << single;
  std::string mm0 = "%t0", wg = "%wg";
  if (d.epilogue) {
    os << "  %mm0, %wg1 = transform.structured.fuse_into_containing_op %mm into %wg" << pair;
    mm0 = "%mm0";
    wg = "%wg1";
  }
  if (d.fill)
    os << "  %fill0, %wg2 = transform.structured.fuse_into_containing_op %fill into " << wg
       << pair;
  os << matchAttr("%tr", kTransposeAttr)
     << "  %tr0, %wg3 = transform.structured.fuse_into_containing_op %tr into " << wg << pair
     // The matmul's column groups, each with its panel.
     << "  %tg, %lg = transform.structured.tile_using_for " << mm0 << " tile_sizes [0, "
     << regN << "]" << single
     << "  %trg, %lg3 = transform.structured.fuse_into_containing_op %tr0 into %lg" << pair
     << "  %tr1, %trl0, %trl1 = transform.structured.tile_using_for %trg tile_sizes [8, "
     << regN << "] interchange = [1, 0]" << triple;
  if (regN > t.packLanes)
    os << "  %tr2, %trl2, %trl3 = transform.structured.tile_using_for %tr1 tile_sizes [8, "
       << t.packLanes << "]" << triple;
  // Register blocks down the group's rows; a last block that does not divide them is peeled
  // and canonicalized to static shapes (as in matmulTiling).
  os << "  %t1, %lm = transform.structured.tile_using_for %tg tile_sizes [" << regM << ", 0]"
     << single;
  std::string mm1 = "%t1";
  if (tileM % regM != 0) {
    os << peelLastRowBlock();
    mm1 = "%mms";
  }
  os << "  %mm2, %lk = transform.structured.tile_using_for " << mm1
     << " tile_sizes [0, 0, 1]" << single;
  // The epilogue over the finished tile, one register block wide.
  if (d.epilogue)
    os << "  %e1, %elm, %eln = transform.structured.tile_using_for %t0 tile_sizes ["
       << (tileM % 8 == 0 ? 8 : 1) << ", " << regN << "]" << triple;
  return s;
}

/// Writes the tiling part of a matmul dispatch's transform script (vectorization follows once
/// per function).
static std::string matmulTiling(const MatmulDispatch &d, const MatmulTiles &t) {
  if (t.columnGroups)
    return matmulGroupedTiling(d, t);
  int64_t lanes = t.lanes, regM = t.regM, regN = t.regN, tileM = t.tileM, tileN = t.tileN;
  // Ragged edges inside a workgroup (dynamic-width tiles, or a static tile that the register
  // block or the panel block does not divide) peel the block loops.
  bool raggedBlocks = d.n % tileN != 0 || tileN % regN != 0;
  bool transposed = d.transpose && !isa<linalg::CopyOp>(d.transpose);
  int64_t packLanes = transposed ? t.packLanes : lanes;
  bool raggedPanel = d.n % tileN != 0 || tileN % packLanes != 0;
  std::string s;
  llvm::raw_string_ostream os(s);
  os << matchAttr("%root", kRootAttr) << matchAttr("%mm", kMatmulAttr);
  bool epilogue = static_cast<bool>(d.epilogue);
  bool fill = static_cast<bool>(d.fill);
  if (fill)
    os << matchAttr("%fill", kFillAttr);
  os << "  %t0, %wg = transform.structured.tile_using_forall %root tile_sizes [" << tileM
     << ", " << tileN << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  std::string mm0 = "%t0", wg = "%wg";
  if (epilogue) {
    os << "  %mm0, %wg1 = transform.structured.fuse_into_containing_op %mm into %wg"
          " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
    mm0 = "%mm0";
    wg = "%wg1";
  }
  if (fill)
    os << "  %fill0, %wg2 = transform.structured.fuse_into_containing_op %fill into " << wg
       << " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  if (d.transpose) {
    // Each workgroup packs its K x tileN panel of the weights once, into a stack buffer, in
    // small square blocks; the register kernel then reads B rows contiguously. A transpose
    // (weights stored [N, K]) walks K for one group of weight rows at a time (the N loop
    // outside), so the weights are read as a few long streams, which the hardware prefetchers
    // follow, rather than as tileN rows touched 32 bytes at a time; a copy walks each row of
    // the panel along N. The group is wide enough that each step writes whole cache lines of
    // the panel (16 rows of f32 with AVX2: two 8 x 8 blocks side by side): with one 8 x 8 block
    // per step, each line was written in two halves a whole K sweep apart, and fetched from L2
    // twice.
    int64_t packRows = std::max<int64_t>(packLanes, kCacheLineBytes / 4);
    bool lineRows = transposed && !raggedPanel && packRows > packLanes && tileN % packRows == 0;
    os << matchAttr("%tr", kTransposeAttr)
       << "  %tr0, %wg3 = transform.structured.fuse_into_containing_op %tr into " << wg
       << " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n"
          "  %tr1, %trl0, %trl1 = transform.structured.tile_using_for %tr0 tile_sizes [8, "
       << (lineRows ? packRows : packLanes) << "]" << (transposed ? " interchange = [1, 0]" : "")
       << " : (!transform.any_op) -> (!transform.any_op, !transform.any_op, "
          "!transform.any_op)\n";
    if (lineRows)
      os << "  %tr2, %trl2, %trl3 = transform.structured.tile_using_for %tr1 tile_sizes [8, "
         << packLanes << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, "
            "!transform.any_op)\n";
    if (raggedPanel)
      os << "  %trlf = transform.cast " << (transposed ? "%trl0" : "%trl1")
         << " : !transform.any_op to !transform.op<\"scf.for\">\n"
            "  %trmain, %trrest = transform.loop.peel %trlf : (!transform.op<\"scf.for\">) -> "
            "(!transform.any_op, !transform.any_op)\n"
            "  transform.apply_patterns to %trmain {\n"
            "    transform.apply_patterns.canonicalization\n"
            "  } : !transform.any_op\n";
  }
  // Register blocks over the root tile.
  os << "  %t1, %lm, %ln = transform.structured.tile_using_for %t0 tile_sizes [" << regM << ", "
     << regN
     << "] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)\n";
  std::string mm1 = "%t1", ln = "%ln";
  if (epilogue) {
    os << "  %mm1, %ln1 = transform.structured.fuse_into_containing_op " << mm0 << " into %ln"
          " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
    mm1 = "%mm1";
    ln = "%ln1";
  }
  // Without an epilogue the fill reaches the register loops only through loop-carried block
  // arguments, which scf.for fusion cannot follow; it then stays a workgroup-tile fill in L1.
  if (fill && epilogue)
    os << "  %fill1, %ln2 = transform.structured.fuse_into_containing_op %fill0 into " << ln
       << " : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  if (tileM % regM != 0) {
    // Blocks that do not divide the tile's rows (pickMatmulTiles): peel the last.
    os << peelLastRowBlock();
    mm1 = "%mms";
  }
  if (raggedBlocks) {
    // Ragged N: the workgroup tiles have dynamic widths (or the block does not divide the
    // tile). Peel the register-block loop so that all blocks but the last have static shapes
    // (and vectorize); the last runs as loops.
    os << "  %lnf = transform.cast " << ln
       << " : !transform.any_op to !transform.op<\"scf.for\">\n"
          "  %lmain, %lrest = transform.loop.peel %lnf : (!transform.op<\"scf.for\">) -> "
          "(!transform.any_op, !transform.any_op)\n"
       << matchAttr("%mms", kMatmulAttr);
    mm1 = "%mms";
  }
  os << "  %mm2, %lk = transform.structured.tile_using_for " << mm1
     << " tile_sizes [0, 0, 1] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)\n";
  return s;
}

/// The transform script of a matmul dispatch made of `parts.size()` independent parts (one, or
/// a divisible part and the ragged edge of N), each tiled as above.
static std::string matmulSchedule(ArrayRef<std::pair<MatmulDispatch, MatmulTiles>> parts,
                                  const VectorTarget &target) {
  std::string body;
  for (auto [i, part] : llvm::enumerate(parts)) {
    std::string tiling = matmulTiling(part.first, part.second);
    body += parts.size() == 1 ? tiling : withSuffix(tiling, "_" + std::to_string(i));
  }
  body += "  %fv = transform.structured.vectorize_children_and_apply_patterns %f"
          " : (!transform.any_op) -> !transform.any_op\n"
          "  transform.apply_patterns to %fv {\n"
          "    transform.apply_patterns.tensor.fold_tensor_empty\n"
          "    transform.apply_patterns.vector.lower_contraction lowering_strategy = "
          "\"outerproduct\"\n"
          "    transform.apply_patterns.vector.transfer_permutation_patterns\n"
          "    transform.apply_patterns.vector.lower_masked_transfers\n"
          "    transform.apply_patterns.canonicalization\n"
          "  } : !transform.any_op\n";
  // The weight panels' 8 x 8 transposes (f32 lanes of AVX2, see matmulTiling) as the 24
  // unpack / shuffle / blend / lane-permute instructions of the x86vector AVX2 recipe: the
  // default element-wise lowering became ~50 scalar broadcasts and ~60 blends per block, which
  // cost a model's prefill matmuls 10-30% (bench/README.md "The layout a model runs"). The
  // recipe's blends are AVX inline assembly, hence only for targets with AVX.
  if (target.avx2Transposes)
    body += "  transform.apply_patterns to %fv {\n"
            "    transform.apply_patterns.vector.lower_transpose avx2_lowering_strategy = true\n"
            "  } : !transform.any_op\n";
  return transformScript(body);
}

/// Cuts a matmul dispatch along N into two independent parts with static shapes, the columns
/// [0, n0) and [n0, N): the root (epilogue or matmul) is tiled at each part's columns and its
/// producers (matmul, accumulator init, weight panel) are tiled with it; the parts are inserted
/// into the stored result. Distribution gives each part its own workgroups.
FailureOr<std::array<MatmulDispatch, 2>> splitAlongN(func::FuncOp func, MatmulDispatch d,
                                                     int64_t n0) {
  SmallVector<bufferization::MaterializeInDestinationOp> stores;
  func.walk([&](bufferization::MaterializeInDestinationOp op) { stores.push_back(op); });
  Operation *root = d.epilogue ? d.epilogue.getOperation() : d.matmul.getOperation();
  if (stores.size() != 1 || stores.front().getSource().getDefiningOp() != root)
    return failure();
  bufferization::MaterializeInDestinationOp store = stores.front();
  SmallVector<Operation *> chain = {d.matmul};
  if (d.fill)
    chain.push_back(d.fill);
  if (d.transpose)
    chain.push_back(d.transpose);
  IRRewriter b(func.getContext());
  b.setInsertionPoint(store);
  Location loc = root->getLoc();
  auto resultType = cast<RankedTensorType>(root->getResult(0).getType());
  Value dest = b.create<tensor::EmptyOp>(loc, resultType.getShape(),
                                         resultType.getElementType());
  std::array<MatmulDispatch, 2> parts;
  for (int p = 0; p < 2; ++p) {
    int64_t offset = p == 0 ? 0 : n0, size = p == 0 ? n0 : d.n - n0;
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(offset)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(d.m), b.getIndexAttr(size)};
    SmallVector<OpFoldResult> loopOffsets = offsets, loopSizes = sizes;
    if (!d.epilogue) {
      loopOffsets.push_back(b.getIndexAttr(0));
      loopSizes.push_back(b.getIndexAttr(d.k));
    }
    b.setInsertionPoint(store);
    FailureOr<TilingResult> tiled =
        cast<TilingInterface>(root).getTiledImplementation(b, loopOffsets, loopSizes);
    if (failed(tiled) || tiled->tiledOps.size() != 1)
      return failure();
    MatmulDispatch &part = parts[p];
    part.m = d.m;
    part.n = size;
    part.k = d.k;
    Operation *newRoot = tiled->tiledOps.front();
    if (d.epilogue)
      part.epilogue = cast<linalg::LinalgOp>(newRoot);
    else
      part.matmul = cast<linalg::LinalgOp>(newRoot);
    SmallVector<Operation *> worklist = {newRoot};
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      for (OpOperand &operand : op->getOpOperands()) {
        auto slice = operand.get().getDefiningOp<tensor::ExtractSliceOp>();
        auto producer = slice ? dyn_cast<OpResult>(slice.getSource()) : OpResult();
        if (!producer || !llvm::is_contained(chain, producer.getOwner()))
          continue;
        b.setInsertionPoint(slice);
        FailureOr<TilingResult> t =
            tensor::replaceExtractSliceWithTiledProducer(b, slice, producer);
        if (failed(t) || t->tiledOps.size() != 1)
          return failure();
        Operation *tiledProducer = t->tiledOps.front();
        operand.set(t->tiledValues.front());
        if (slice->use_empty())
          slice->erase();
        if (producer.getOwner() == d.matmul.getOperation())
          part.matmul = cast<linalg::LinalgOp>(tiledProducer);
        else if (producer.getOwner() == d.fill.getOperation())
          part.fill = cast<linalg::LinalgOp>(tiledProducer);
        else
          part.transpose = cast<linalg::LinalgOp>(tiledProducer);
        worklist.push_back(tiledProducer);
      }
    }
    if (!part.matmul)
      return failure();
    b.setInsertionPoint(store);
    SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
    dest = b.create<tensor::InsertSliceOp>(loc, tiled->tiledValues.front(), dest, offsets,
                                           sizes, strides);
  }
  b.modifyOpInPlace(store, [&] { store.getSourceMutable().assign(dest); });
  SmallVector<Operation *> dead = {root};
  if (d.epilogue)
    dead.push_back(d.matmul);
  if (d.fill)
    dead.push_back(d.fill);
  if (d.transpose)
    dead.push_back(d.transpose);
  for (Operation *op : dead)
    if (op->use_empty())
      b.eraseOp(op);
  return parts;
}

std::string transformScript(StringRef body) {
  return ("module attributes {transform.with_named_sequence} {\n"
          "transform.named_sequence @__transform_main(%f: !transform.any_op) {\n" +
          body +
          "  transform.yield\n"
          "}\n"
          "}\n")
      .str();
}

std::string matchAttr(StringRef result, StringRef attr, StringRef in) {
  return ("  " + result + " = transform.structured.match attributes{" + attr + "} in " + in +
          " : (!transform.any_op) -> !transform.any_op\n")
      .str();
}

LogicalResult applySchedule(func::FuncOp func, StringRef script, bool dump) {
  if (dump)
    llvm::errs() << "// schedule of dispatch '" << func.getSymName() << "'\n" << script;
  OwningOpRef<ModuleOp> transforms = parseSourceString<ModuleOp>(script, func.getContext());
  if (!transforms)
    return func.emitError() << "internal error: the schedule of dispatch '" << func.getSymName()
                            << "' does not parse";
  auto entry = transforms->lookupSymbol<transform::NamedSequenceOp>("__transform_main");
  transform::TransformOptions options;
  if (failed(transform::applyTransformNamedSequence(func, entry, *transforms, options)))
    return func.emitError() << "scheduling dispatch '" << func.getSymName() << "' failed";
  return success();
}

void stripScheduleMarkers(func::FuncOp func) {
  func.walk([&](Operation *op) {
    if (op == func.getOperation())
      return;
    SmallVector<StringAttr> names;
    for (NamedAttribute a : op->getDiscardableAttrs())
      if (a.getName().getValue().starts_with("kiln.cpu."))
        names.push_back(a.getName());
    for (StringAttr name : names)
      op->removeAttr(name);
  });
}


/// The vector target the schedules are made for: the width in bits (the override, else the
/// target CPU's registers: 512 when it has AVX-512F, from the CPU's own feature set, so
/// x86-64-v4 gets 512-bit schedules on an AVX2 machine and x86-64-v3 256-bit ones on an
/// AVX-512 machine) and whether 8 x 8 transposes take the AVX2 recipe (256-bit schedules on a
/// CPU with AVX).
static FailureOr<VectorTarget> vectorTarget(ModuleOp module, const CPUTargetOptions &options) {
  ResolvedCPU cpu;
  std::string error;
  if (failed(resolveCPUTarget(options, cpu, error)))
    return module.emitError() << "CPU target: " << error;
  VectorTarget target;
  target.bits = options.scheduleVectorBits ? options.scheduleVectorBits
                : hasCPUFeature(cpu, "avx512f") ? 512u
                                                 : 256u;
  target.avx2Transposes = hasCPUFeature(cpu, "avx");
  return target;
}

/// Decomposes aggregate ops (linalg.softmax, ...) into the structured ops they stand for.
static LogicalResult decomposeAggregates(func::FuncOp func) {
  SmallVector<linalg::AggregatedOpInterface> aggregates;
  func.walk([&](linalg::AggregatedOpInterface op) { aggregates.push_back(op); });
  IRRewriter rewriter(func.getContext());
  for (linalg::AggregatedOpInterface op : aggregates) {
    rewriter.setInsertionPoint(op);
    FailureOr<SmallVector<Value>> results = op.decomposeOperation(rewriter);
    if (failed(results))
      return op->emitError("cannot decompose this op for the CPU target");
    rewriter.replaceOp(op, *results);
  }
  return success();
}

/// Rewrites matmul_transpose_b(A, W) as matmul(A, transpose(W)); the matmul schedule fuses
/// the transpose into each workgroup, so the weights are never transposed as a whole. Weights
/// stored in a narrower type (bf16, int8) are widened to A's type by the same transpose
/// (isWideningTranspose): the register kernel reads f32 panels either way.
static void splitTransposedMatmuls(func::FuncOp func) {
  SmallVector<linalg::MatmulTransposeBOp> ops;
  func.walk([&](linalg::MatmulTransposeBOp op) { ops.push_back(op); });
  for (linalg::MatmulTransposeBOp op : ops) {
    if (!op.hasPureTensorSemantics())
      continue;
    auto wType = dyn_cast<RankedTensorType>(op.getDpsInputs()[1].getType());
    auto aType = dyn_cast<RankedTensorType>(op.getDpsInputs()[0].getType());
    if (!wType || !wType.hasStaticShape() || !aType || !aType.hasStaticShape())
      continue;
    // Decode-sized M keeps the [N, K] layout: dot products along K (matvecSchedule).
    if (aType.getDimSize(0) <= kMaxMatvecRows)
      continue;
    OpBuilder b(op);
    Location loc = op.getLoc();
    Type element = aType.getElementType();
    Value empty = b.create<tensor::EmptyOp>(
        loc, ArrayRef<int64_t>{wType.getDimSize(1), wType.getDimSize(0)}, element);
    Operation *transposed;
    if (wType.getElementType() == element) {
      transposed = b.create<linalg::TransposeOp>(loc, op.getDpsInputs()[1], empty,
                                                 ArrayRef<int64_t>{1, 0});
    } else {
      MLIRContext *ctx = b.getContext();
      AffineExpr d0, d1;
      bindDims(ctx, d0, d1);
      transposed = b.create<linalg::GenericOp>(
          loc, empty.getType(), op.getDpsInputs()[1], empty,
          ArrayRef<AffineMap>{AffineMap::get(2, 0, {d1, d0}, ctx), b.getMultiDimIdentityMap(2)},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                        utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location l, ValueRange args) {
            nb.create<linalg::YieldOp>(l, widenWeight(nb, l, element, args[0]));
          });
    }
    auto matmul = b.create<linalg::MatmulOp>(
        loc, op->getResultTypes(),
        ValueRange{op.getDpsInputs()[0], transposed->getResult(0)}, op.getDpsInits());
    op->replaceAllUsesWith(matmul);
    op->erase();
  }
  // Plain matmuls get the same per-workgroup panel, as a copy: the register kernel then reads
  // B rows of tileN contiguous floats instead of striding through the full N (TLB, L2).
  SmallVector<linalg::MatmulOp> matmuls;
  func.walk([&](linalg::MatmulOp op) { matmuls.push_back(op); });
  for (linalg::MatmulOp op : matmuls) {
    auto aType = dyn_cast<RankedTensorType>(op.getDpsInputs()[0].getType());
    auto bType = dyn_cast<RankedTensorType>(op.getDpsInputs()[1].getType());
    if (!op.hasPureTensorSemantics() || !aType || !bType || !aType.hasStaticShape() ||
        !bType.hasStaticShape() || aType.getDimSize(0) <= kMaxMatvecRows ||
        op.getDpsInputs()[1].getDefiningOp<linalg::TransposeOp>() ||
        isWideningTranspose(op.getDpsInputs()[1].getDefiningOp()))
      continue;
    OpBuilder b(op);
    Value empty =
        b.create<tensor::EmptyOp>(op.getLoc(), bType.getShape(), bType.getElementType());
    auto copy = b.create<linalg::CopyOp>(op.getLoc(), op.getDpsInputs()[1], empty);
    op->setOperand(1, copy->getResult(0));
  }
}

/// Marks the ops of one part of a matmul dispatch for its transform script: the matmul, its
/// fill and weight panel, and the root (the epilogue, or the matmul); `sfx` is the part's
/// suffix (withSuffix).
void markMatmulOps(MatmulDispatch d, StringRef sfx) {
  UnitAttr unit = UnitAttr::get(d.matmul->getContext());
  d.matmul->setAttr((kMatmulAttr + sfx).str(), unit);
  if (d.fill)
    d.fill->setAttr((kFillAttr + sfx).str(), unit);
  if (d.transpose)
    d.transpose->setAttr((kTransposeAttr + sfx).str(), unit);
  (d.epilogue ? d.epilogue.getOperation() : d.matmul.getOperation())
      ->setAttr((kRootAttr + sfx).str(), unit);
}

LogicalResult scheduleDispatches(ModuleOp module, const CPUTargetOptions &options) {
  FailureOr<VectorTarget> target = vectorTarget(module, options);
  if (failed(target))
    return failure();
  unsigned bits = target->bits;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (failed(decomposeAggregates(func)))
      return failure();
    splitTransposedMatmuls(func);
    // Contractions written as linalg.generic (the kiln lowering's `linear`) become named ops
    // when they are plain matmuls, so that the matmul schedule recognizes them.
    SmallVector<linalg::GenericOp> generics;
    func.walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(func.getContext());
    for (linalg::GenericOp op : generics) {
      rewriter.setInsertionPoint(op);
      (void)linalg::specializeGenericOp(rewriter, op);
    }
    splitTransposedMatmuls(func);
  }
  for (auto func : module.getOps<func::FuncOp>()) {
    bool matvec = false;
    if (failed(scheduleMatvec(func, bits, options.dumpSchedules, matvec)))
      return failure();
    if (matvec)
      continue;
    std::optional<MatmulDispatch> mm = matchMatmul(func);
    if (!mm) {
      bool scheduled = false; // batched contraction or one workgroup
      if (failed(scheduleBatchedContraction(func, bits, options.dumpSchedules,
                                            scheduled)))
        return failure();
      if (!scheduled &&
          failed(scheduleSoftmax(func, bits, options.dumpSchedules, scheduled)))
        return failure();
      if (!scheduled &&
          failed(scheduleNorm(func, bits, options.dumpSchedules, scheduled)))
        return failure();
      continue; // Otherwise one workgroup; lowered to loops after bufferization.
    }
    UnitAttr unit = UnitAttr::get(func.getContext());
    SmallVector<std::pair<MatmulDispatch, MatmulTiles>> parts;
    MatmulTiles tiles = pickMatmulTiles(*mm, *target);
    if (mm->n > tiles.tileN && mm->n % tiles.tileN != 0) {
      // Ragged N (GPT-2's lm head, N = 50257): the divisible part and the edge become two
      // static parts with their own workgroups.
      int64_t n0 = mm->n - mm->n % tiles.tileN;
      FailureOr<std::array<MatmulDispatch, 2>> split = splitAlongN(func, *mm, n0);
      if (succeeded(split)) {
        func->setAttr(kIndependentSegmentsAttr, unit);
        for (MatmulDispatch &part : *split)
          parts.push_back({part, pickMatmulTiles(part, *target)});
      }
    }
    if (parts.empty())
      parts.push_back({*mm, tiles});
    for (auto [i, part] : llvm::enumerate(parts))
      markMatmulOps(part.first, parts.size() == 1 ? "" : "_" + std::to_string(i));
    if (failed(applySchedule(func, matmulSchedule(parts, *target), options.dumpSchedules)))
      return failure();
    stripScheduleMarkers(func);
  }
  return success();
}

} // namespace kiln::cpu
