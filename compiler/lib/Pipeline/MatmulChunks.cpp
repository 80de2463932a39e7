//===- MatmulChunks.cpp - Dynamic-M matmuls of whole entry points in tuned chunks -===//
//
// An entry point compiled whole (no --specialize) has matmuls whose row count M (batch x seq)
// is only known at run time, so no static schedule applies and LLVM's loops ran them at about
// 2 GFLOP/s. The matmuls are each a function of their own by now (kiln-outline-buffer-ops);
// one whose weight (f32, bf16 or int8) and K, N are static gets a static 64-row chunk of itself
// compiled as a dispatch with the CPU target's tuned matmul schedule, and its body becomes a
// loop calling that dispatch's ABI entry for every 64 rows (all its workgroups, on the
// calling thread):
//
//   for m0 in 0, 64, ... while m0 + 64 <= M:   scratch = A[m0 : m0+64] x W;  C[m0:] += scratch
//   r = M mod 64 rows left, r > 4:             A's r rows copied into a zeroed 64-row block,
//                                              the same call, C's r rows += scratch's first r
//   r <= 4:                                    per row, C[i] += A[i] x W (one-row dispatch)
//
// Up to four rows left over (a decode step) are instead one call each of a one-row dispatch
// compiled with the matrix-vector schedule: a 64-row chunk for one row would do 64 times the
// work. A whose rows are not dense (the last position's slice) is copied chunk by chunk.
//
// When the entry point fills C with zero just before the matmul (markZeroInitMatmuls marks
// the op kZeroInitAttr), `C += product` is `C = product`: every chunk and row call writes
// straight into C's rows, and the padded chunk's first r rows are copied into C.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dispatch/Dispatch.h"
#include "kiln/rt/cpu/ExecutableABI.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

#include <map>
#include <tuple>

using namespace mlir;

namespace kiln {
namespace {

/// The runtime's services to the code (ExecutableABI.h).
constexpr llvm::StringLiteral kHostSymbol = KILN_CPU_HOST_SYMBOL;

/// Rows of each chunk: the M of the shapes the schedules are tuned and measured on.
constexpr int64_t kChunkRows = 64;

/// An outlined matmul `C[M, N] += A[M, K] x B` with B `[N, K]` (transposed) or `[K, N]`.
struct ChunkableMatmul {
  func::FuncOp function;
  Operation *op;
  bool transposedB;
  int64_t k, n;
  /// f32, bf16 (`--weight-dtype=bf16`: widened as it is read, as in the tuned dispatches) or
  /// i8 (`--weight-dtype=int8`: converted with sitofp as it is read; the row scales are the
  /// epilogue, an op of its own).
  Type weightElement;
  /// A is dense (identity layout): a chunk's rows are read where they are. Otherwise only
  /// its rows are contiguous and each chunk is copied into a dense block first.
  bool denseA;
  /// C holds zeros when the op runs (kZeroInitAttr): each chunk writes its product straight
  /// into C's rows, with no scratch to add from.
  bool zeroInit;
};

/// On an outlined matmul whose accumulator the entry point has just filled with zero.
constexpr llvm::StringLiteral kZeroInitAttr = "kiln.zero_init";

bool isDense(MemRefType t) { return t && t.getRank() == 2 && t.getLayout().isIdentity(); }

/// Rank 2, f32, each row contiguous (a slice of rows, such as the last position's).
bool hasContiguousRows(MemRefType t) {
  SmallVector<int64_t> strides;
  int64_t offset;
  return t && t.getRank() == 2 && t.getElementType().isF32() &&
         succeeded(getStridesAndOffset(t, strides, offset)) && strides[1] == 1;
}

/// Weight element types the tuned matmul and matrix-vector schedules read.
bool isChunkableWeight(Type t) { return t.isF32() || t.isBF16() || t.isSignlessInteger(8); }

/// The outlined function's matmul when the tuned schedules can run it in chunks: f32 (the
/// weight f32, bf16 or i8), M dynamic, K, N and the weight static, weight and result dense, A's
/// rows contiguous.
std::optional<ChunkableMatmul> matchChunkable(func::FuncOp f) {
  if (!f->hasAttr(dispatch::kOutlinedOpAttr) || f.isExternal())
    return std::nullopt;
  Block &body = f.getBody().front();
  if (body.getOperations().size() != 2)
    return std::nullopt;
  Operation *op = &body.front();
  bool transposedB = isa<linalg::MatmulTransposeBOp>(op);
  if (!transposedB && !isa<linalg::MatmulOp>(op))
    return std::nullopt;
  auto linalgOp = cast<linalg::LinalgOp>(op);
  auto a = dyn_cast<MemRefType>(linalgOp.getDpsInputs()[0].getType());
  auto b = dyn_cast<MemRefType>(linalgOp.getDpsInputs()[1].getType());
  auto c = dyn_cast<MemRefType>(linalgOp.getDpsInits()[0].getType());
  if (!hasContiguousRows(a) || !isDense(b) || !isDense(c) || !b.hasStaticShape() ||
      !a.isDynamicDim(0) || a.isDynamicDim(1) || !c.isDynamicDim(0) || c.isDynamicDim(1) ||
      !c.getElementType().isF32() || !isChunkableWeight(b.getElementType()))
    return std::nullopt;
  int64_t k = a.getDimSize(1), n = c.getDimSize(1);
  if (b.getShape() != ArrayRef<int64_t>(transposedB ? std::array{n, k} : std::array{k, n}))
    return std::nullopt;
  return ChunkableMatmul{f, op, transposedB, k, n, b.getElementType(),
                         a.getLayout().isIdentity(), op->hasAttr(kZeroInitAttr)};
}

/// `@name(%a: tensor<ROWSxKxf32>, %b) -> tensor<ROWSxNxf32>`: a chunk the CPU target compiles
/// with its schedule (64 rows: the matmul schedule; one row: the matrix-vector one).
void buildChunkFunction(OpBuilder &b, Location loc, StringRef name, const ChunkableMatmul &m,
                        int64_t rows) {
  Type f32 = b.getF32Type();
  auto a = RankedTensorType::get({rows, m.k}, f32);
  auto w = RankedTensorType::get(m.transposedB ? ArrayRef<int64_t>{m.n, m.k}
                                               : ArrayRef<int64_t>{m.k, m.n},
                                 m.weightElement);
  auto c = RankedTensorType::get({rows, m.n}, f32);
  auto f = b.create<func::FuncOp>(loc, name, b.getFunctionType({a, w}, {c}));
  Block *body = f.addEntryBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(body);
  Value empty = b.create<tensor::EmptyOp>(loc, c.getShape(), f32);
  Value zero = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0));
  Value init = b.create<linalg::FillOp>(loc, zero, empty).getResult(0);
  ValueRange ins = body->getArguments();
  Value product =
      m.transposedB
          ? b.create<linalg::MatmulTransposeBOp>(loc, TypeRange{c}, ins, init).getResult(0)
          : b.create<linalg::MatmulOp>(loc, TypeRange{c}, ins, init).getResult(0);
  b.create<func::ReturnOp>(loc, product);
}

/// A compiled chunk dispatch: its ABI entry (declared in the module) and workgroup count.
struct ChunkEntry {
  func::FuncOp entry;
  int64_t workgroups = 1;
};

/// Builds the chunk loops of one outlined matmul in place of its op.
class ChunkRewriter {
public:
  ChunkRewriter(const ChunkableMatmul &m, ChunkEntry chunk, ChunkEntry row)
      : m(m), chunk(chunk), row(row), loc(m.op->getLoc()), b(m.op) {
    auto linalgOp = cast<linalg::LinalgOp>(m.op);
    a = linalgOp.getDpsInputs()[0];
    w = linalgOp.getDpsInputs()[1];
    c = linalgOp.getDpsInits()[0];
    ptr = LLVM::LLVMPointerType::get(b.getContext());
  }

  void rewrite() {
    Value zero = index(0);
    auto meta = b.create<memref::ExtractStridedMetadataOp>(loc, a);
    aBase = addressOf(meta.getBaseBuffer());
    aOffset = meta.getOffset();
    aRowStride = meta.getStrides()[0];
    if (m.zeroInit) {
      auto cMeta = b.create<memref::ExtractStridedMetadataOp>(loc, c);
      cBase = addressOf(cMeta.getBaseBuffer());
      cOffset = cMeta.getOffset();
    }
    Value count = b.create<LLVM::ConstantOp>(loc, b.getI64Type(), b.getI64IntegerAttr(3));
    buffers = b.create<LLVM::AllocaOp>(loc, ptr, ptr, count, /*alignment=*/8);
    store(1, addressOf(w));
    noScalars = b.create<LLVM::ZeroOp>(loc, ptr);

    Value rowsM = b.create<memref::DimOp>(loc, a, zero);
    Value chunkRows = index(kChunkRows);
    Value full = b.create<arith::MulIOp>(
        loc, b.create<arith::DivUIOp>(loc, rowsM, chunkRows), chunkRows);
    Value left = b.create<arith::SubIOp>(loc, rowsM, full);

    // Whole chunks of 64 rows.
    inThen(b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ugt, full, zero), [&] {
      Value scratch = m.zeroInit ? Value() : alloc(kChunkRows, m.n);
      Value block = m.denseA ? Value() : alloc(kChunkRows, m.k);
      if (scratch)
        store(2, addressOf(scratch));
      auto loop = b.create<scf::ForOp>(loc, zero, full, chunkRows);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      Value m0 = loop.getInductionVar();
      if (m.denseA) {
        store(0, rowAddress(m0));
      } else {
        copyRows(m0, b.getIndexAttr(kChunkRows), block);
        store(0, addressOf(block));
      }
      if (m.zeroInit) {
        store(2, cRowAddress(m0));
        call(chunk);
      } else {
        call(chunk);
        accumulate(m0, b.getIndexAttr(kChunkRows), scratch);
      }
      b.setInsertionPointAfter(loop);
      if (block)
        b.create<memref::DeallocOp>(loc, block);
      if (scratch)
        b.create<memref::DeallocOp>(loc, scratch);
    });
    // More rows left than kRowCalls: copied into a zeroed chunk; otherwise one call of the
    // one-row dispatch per row (the whole decode step of batch 1).
    auto tail = b.create<scf::IfOp>(
        loc, b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ugt, left, index(kRowCalls)),
        /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(tail.thenBlock()->getTerminator());
      Value scratch = alloc(kChunkRows, m.n);
      Value block = alloc(kChunkRows, m.k);
      Value zeroF32 = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0));
      b.create<linalg::FillOp>(loc, zeroF32, block);
      copyRows(full, left, block);
      store(0, addressOf(block));
      store(2, addressOf(scratch));
      call(chunk);
      if (m.zeroInit)
        b.create<linalg::CopyOp>(loc, rows(scratch, b.getIndexAttr(0), left, m.n),
                                 rows(c, full, left, m.n));
      else
        accumulate(full, left, scratch);
      b.create<memref::DeallocOp>(loc, block);
      b.create<memref::DeallocOp>(loc, scratch);

      b.setInsertionPoint(tail.elseBlock()->getTerminator());
      inThen(b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ugt, left, zero), [&] {
        // A decode step's only scratch: on the stack (at the function's start), so that a
        // token allocates nothing here.
        auto rowType = MemRefType::get({1, m.n}, b.getF32Type());
        bool onStack = m.n * 4 <= kRowScratchStackBytes;
        Value out;
        if (m.zeroInit) {
          // Each row's product straight into C's row.
          auto loop = b.create<scf::ForOp>(loc, full, rowsM, index(1));
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(loop.getBody()->getTerminator());
          store(0, rowAddress(loop.getInductionVar()));
          store(2, cRowAddress(loop.getInductionVar()));
          call(row);
          return;
        }
        if (onStack) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&func::FuncOp(m.function).getBody().front());
          out = b.create<memref::AllocaOp>(loc, rowType, b.getI64IntegerAttr(64));
        } else {
          out = alloc(1, m.n);
        }
        store(2, addressOf(out));
        auto loop = b.create<scf::ForOp>(loc, full, rowsM, index(1));
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(loop.getBody()->getTerminator());
        store(0, rowAddress(loop.getInductionVar()));
        call(row);
        accumulate(loop.getInductionVar(), b.getIndexAttr(1), out);
        b.setInsertionPointAfter(loop);
        if (!onStack)
          b.create<memref::DeallocOp>(loc, out);
      });
    }
    m.op->erase();
  }

private:
  /// Rows left over at most this many run as one-row calls (each streams the whole weight
  /// once); more are cheaper as one padded 64-row chunk.
  static constexpr int64_t kRowCalls = 4;
  /// A one-row product up to this size lives on the stack (a 50257-entry vocabulary's
  /// logits row is 196 KiB; the bufferized entry points keep up to 2 MiB there).
  static constexpr int64_t kRowScratchStackBytes = 256 * 1024;

  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }

  Value alloc(int64_t rows, int64_t cols) {
    auto type = MemRefType::get({rows, cols}, b.getF32Type());
    return b.create<memref::AllocOp>(loc, type, b.getI64IntegerAttr(64));
  }

  /// Runs `body` in the then-block of a new `scf.if cond`.
  void inThen(Value cond, llvm::function_ref<void()> body) {
    auto ifOp = b.create<scf::IfOp>(loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  }

  /// The address of a buffer's first element (aligned pointer; `buffer` has offset 0).
  Value addressOf(Value buffer) {
    Value index = b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, buffer);
    Value address = b.create<arith::IndexCastOp>(loc, b.getI64Type(), index);
    return b.create<LLVM::IntToPtrOp>(loc, ptr, address);
  }

  /// The address of A's row `i`.
  Value rowAddress(Value i) {
    Value element =
        b.create<arith::AddIOp>(loc, aOffset, b.create<arith::MulIOp>(loc, i, aRowStride));
    Value offset = b.create<arith::IndexCastOp>(loc, b.getI64Type(), element);
    return b.create<LLVM::GEPOp>(loc, ptr, b.getF32Type(), aBase, ValueRange{offset});
  }

  /// The address of C's row `i` (C is dense: rows of N elements).
  Value cRowAddress(Value i) {
    Value element =
        b.create<arith::AddIOp>(loc, cOffset, b.create<arith::MulIOp>(loc, i, index(m.n)));
    Value offset = b.create<arith::IndexCastOp>(loc, b.getI64Type(), element);
    return b.create<LLVM::GEPOp>(loc, ptr, b.getF32Type(), cBase, ValueRange{offset});
  }

  void store(unsigned slot, Value value) {
    Value at = b.create<LLVM::GEPOp>(loc, ptr, ptr, buffers,
                                     ArrayRef<LLVM::GEPArg>{int32_t(slot)});
    b.create<LLVM::StoreOp>(loc, value, at);
  }

  /// All of the dispatch's workgroups, on this thread.
  void call(const ChunkEntry &dispatch) {
    Value begin = b.create<arith::ConstantIntOp>(loc, 0, 32);
    Value end = b.create<arith::ConstantIntOp>(loc, dispatch.workgroups, 32);
    b.create<func::CallOp>(loc, dispatch.entry, ValueRange{buffers, noScalars, begin, end});
  }

  /// Rows [at, at + count) of a `[?, cols]` buffer.
  Value rows(Value buffer, OpFoldResult at, OpFoldResult count, int64_t cols) {
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    return b.create<memref::SubViewOp>(loc, buffer, SmallVector<OpFoldResult>{at, zero},
                                       SmallVector<OpFoldResult>{count, b.getIndexAttr(cols)},
                                       SmallVector<OpFoldResult>{one, one});
  }

  /// A[from : from + count] -> block[0 : count].
  void copyRows(Value from, OpFoldResult count, Value block) {
    b.create<linalg::CopyOp>(loc, rows(a, from, count, m.k),
                             rows(block, b.getIndexAttr(0), count, m.k));
  }

  /// C[at : at + count] += product[0 : count].
  void accumulate(Value at, OpFoldResult count, Value product) {
    Value out = rows(c, at, count, m.n);
    Value part = rows(product, b.getIndexAttr(0), count, m.n);
    b.create<linalg::AddOp>(loc, ValueRange{out, part}, ValueRange{out});
  }

  const ChunkableMatmul &m;
  ChunkEntry chunk, row;
  Location loc;
  OpBuilder b;
  Value a, w, c, aBase, aOffset, aRowStride, cBase, cOffset, buffers, noScalars;
  Type ptr;
};

bool isZeroFill(Operation *op, Value buffer) {
  auto fill = dyn_cast_or_null<linalg::FillOp>(op);
  return fill && fill.hasPureBufferSemantics() && fill.getOutputs()[0] == buffer &&
         matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

constexpr llvm::StringLiteral kEntryPrefix = "kiln_cpu_dispatch_";
constexpr llvm::StringLiteral kRunWorkgroups = "kiln_run_workgroups";

} // namespace

/// `@kiln_run_workgroups(ptr %fn, ptr %buffers, ptr %scalars, i32 %count)`: runs workgroups
/// [0, count) of the dispatch entry `%fn` through the runtime's `kiln_cpu_host_v2` when it
/// filled it in (over its threads), else on this thread.
LLVM::LLVMFuncOp getOrBuildRunWorkgroups(ModuleOp module) {
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(kRunWorkgroups))
    return existing;
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  Location loc = module.getLoc();
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type();
  Type voidType = LLVM::LLVMVoidType::get(ctx);
  // kiln_cpu_host: run_workgroups, context, alloc, free.
  auto hostType = LLVM::LLVMStructType::getLiteral(ctx, {ptr, ptr, ptr, ptr});
  // A declaration: the descriptor table's module defines it (Emit.cpp).
  b.create<LLVM::GlobalOp>(loc, hostType, /*isConstant=*/false, LLVM::Linkage::External,
                           kHostSymbol, Attribute());
  auto fn = b.create<LLVM::LLVMFuncOp>(
      loc, kRunWorkgroups, LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, ptr, i32}));
  fn.setLinkage(LLVM::Linkage::Internal);
  Block *entry = fn.addEntryBlock(b);
  Block *viaHost = fn.addBlock(), *here = fn.addBlock();
  Value callee = entry->getArgument(0), buffers = entry->getArgument(1),
        scalars = entry->getArgument(2), count = entry->getArgument(3);
  b.setInsertionPointToStart(entry);
  Value host = b.create<LLVM::AddressOfOp>(loc, ptr, kHostSymbol);
  Value run = b.create<LLVM::LoadOp>(loc, ptr, host);
  Value contextSlot =
      b.create<LLVM::GEPOp>(loc, ptr, hostType, host, ArrayRef<LLVM::GEPArg>{0, 1});
  Value context = b.create<LLVM::LoadOp>(loc, ptr, contextSlot);
  Value none = b.create<LLVM::ZeroOp>(loc, ptr);
  Value missing = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::eq, run, none);
  b.create<LLVM::CondBrOp>(loc, missing, here, viaHost);

  b.setInsertionPointToStart(viaHost);
  b.create<LLVM::CallOp>(loc, LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, ptr, ptr, i32}),
                         ValueRange{run, context, callee, buffers, scalars, count});
  b.create<LLVM::ReturnOp>(loc, ValueRange());

  b.setInsertionPointToStart(here);
  Value zero = b.create<LLVM::ConstantOp>(loc, i32, b.getI32IntegerAttr(0));
  b.create<LLVM::CallOp>(loc, LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, i32, i32}),
                         ValueRange{callee, buffers, scalars, zero, count});
  b.create<LLVM::ReturnOp>(loc, ValueRange());
  return fn;
}

LogicalResult routeChunkCallsThroughHost(ModuleOp module) {
  SmallVector<LLVM::CallOp> calls;
  module.walk([&](LLVM::CallOp call) {
    std::optional<StringRef> callee = call.getCallee();
    if (callee && callee->starts_with(kEntryPrefix))
      calls.push_back(call);
  });
  if (calls.empty())
    return success();
  LLVM::LLVMFuncOp run = getOrBuildRunWorkgroups(module);
  Type ptr = LLVM::LLVMPointerType::get(module.getContext());
  for (LLVM::CallOp call : calls) {
    // (buffers, scalars, begin = 0, end = count), as rewriteIntoChunks calls them.
    OpBuilder b(call);
    Value entry = b.create<LLVM::AddressOfOp>(call.getLoc(), ptr, *call.getCallee());
    b.create<LLVM::CallOp>(call.getLoc(), run,
                           ValueRange{entry, call.getOperand(0), call.getOperand(1),
                                      call.getOperand(3)});
    call.erase();
  }
  return success();
}

unsigned markZeroInitMatmuls(func::FuncOp function) {
  unsigned marked = 0;
  function.walk([&](Operation *op) {
    if (!isa<linalg::MatmulOp, linalg::MatmulTransposeBOp>(op))
      return;
    Value c = cast<linalg::LinalgOp>(op).getDpsInits()[0];
    if (isZeroFill(op->getPrevNode(), c)) {
      op->setAttr(kZeroInitAttr, UnitAttr::get(op->getContext()));
      ++marked;
    }
  });
  return marked;
}

LogicalResult chunkDynamicMatmuls(ModuleOp module, const cpu::CPUTargetOptions &options,
                                  OwningOpRef<ModuleOp> &chunks,
                                  std::vector<cpu::DispatchInfo> &chunkInfos) {
  SmallVector<ChunkableMatmul> matmuls;
  for (func::FuncOp f : module.getOps<func::FuncOp>())
    if (std::optional<ChunkableMatmul> m = matchChunkable(f))
      matmuls.push_back(*m);
  if (matmuls.empty())
    return success();

  // Two dispatches per distinct (K, N, weight layout and type), 64 rows and one row; forward's,
  // prefill's and decode's matmuls of one shape share them.
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  chunks = b.create<ModuleOp>(module.getLoc());
  b.setInsertionPointToEnd(chunks->getBody());
  std::map<std::tuple<int64_t, int64_t, bool, unsigned>, unsigned> shapes;
  SmallVector<unsigned> shapeOf;
  auto chunkName = [](unsigned shape) { return "kiln_matmul_chunk_" + std::to_string(shape); };
  auto rowName = [](unsigned shape) { return "kiln_matmul_row_" + std::to_string(shape); };
  for (const ChunkableMatmul &m : matmuls) {
    auto [it, inserted] = shapes.try_emplace(
        {m.k, m.n, m.transposedB, m.weightElement.getIntOrFloatBitWidth()}, shapes.size());
    if (inserted) {
      buildChunkFunction(b, m.op->getLoc(), chunkName(it->second), m, kChunkRows);
      buildChunkFunction(b, m.op->getLoc(), rowName(it->second), m, 1);
    }
    shapeOf.push_back(it->second);
  }
  size_t first = chunkInfos.size();
  if (failed(cpu::compileToLLVMDialect(*chunks, options, chunkInfos)))
    return failure();

  // Each dispatch's ABI entry (Emit.cpp): (void *const *buffers, const int64_t *scalars,
  // u32 begin, u32 end), defined in that dispatch's object.
  SymbolTable symbols(module);
  llvm::StringMap<ChunkEntry> entries;
  auto entryOf = [&](const std::string &name) -> FailureOr<ChunkEntry> {
    ChunkEntry &entry = entries[name];
    if (entry.entry)
      return entry;
    const cpu::DispatchInfo *info = nullptr;
    for (size_t i = first; i < chunkInfos.size(); ++i)
      if (chunkInfos[i].name == name)
        info = &chunkInfos[i];
    if (!info)
      return module.emitError() << "matmul chunk '" << name << "' was not compiled";
    OpBuilder top(ctx);
    top.setInsertionPointToEnd(module.getBody());
    Type ptr = LLVM::LLVMPointerType::get(ctx);
    Type i32 = top.getI32Type();
    entry.entry = top.create<func::FuncOp>(module.getLoc(), "kiln_cpu_dispatch_" + name,
                                           top.getFunctionType({ptr, ptr, i32, i32}, {}));
    entry.entry.setPrivate();
    symbols.insert(entry.entry);
    entry.workgroups = int64_t(info->workgroupCount[0]) * info->workgroupCount[1] *
                       info->workgroupCount[2];
    return entry;
  };
  for (auto [m, shape] : llvm::zip(matmuls, shapeOf)) {
    FailureOr<ChunkEntry> chunk = entryOf(chunkName(shape));
    FailureOr<ChunkEntry> row = entryOf(rowName(shape));
    if (failed(chunk) || failed(row))
      return failure();
    ChunkRewriter(m, *chunk, *row).rewrite();
  }
  return success();
}

} // namespace kiln
