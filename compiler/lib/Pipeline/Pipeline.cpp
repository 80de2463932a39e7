//===- Pipeline.cpp - The compilation pipeline shared by kilnc and kiln-opt -===//
//
// Entry points are compiled whole: each becomes ONE dispatch of the CPU code section that
// takes every input, parameter and output as a buffer and the symbolic sizes (batch, seq) as
// scalars. Internal temporaries are allocated by the dispatch itself (stack when small and
// bounded, heap otherwise, freed by ownership-based deallocation). Inside it each op is a
// function of its own, shared by the layers (kiln-outline-buffer-ops), so that LLVM optimizes
// it once. kilnc --specialize cuts entry points into per-op dispatches with the tuned matmul
// schedules instead (CPUArtifact.cpp, docs/dispatch.md).
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Conversion/Passes.h"
#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"
#include "kiln/Dispatch/Dispatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"

using namespace mlir;

namespace kiln {

void buildLowerToLinalgPipeline(OpPassManager &pm) {
  pm.addPass(createKilnLowerToLinalg());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

namespace {
/// Test only: binds the generation and forward entry points of a module already lowered to
/// linalg and bufferizes them as the CPU artifact does, to check in-place state updates.
struct TestBufferizeEntryPointsPass
    : PassWrapper<TestBufferizeEntryPointsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestBufferizeEntryPointsPass)
  StringRef getArgument() const override { return "kiln-test-bufferize-entry-points"; }
  StringRef getDescription() const override {
    return "Test only: bind entry points to buffers and bufferize them as kilnc -o does";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    cpu::registerCPUTargetDialects(registry);
  }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<std::string> entries;
    for (const std::string &e : compiledEntryPoints())
      if (module.lookupSymbol(e))
        entries.push_back(e);
    std::vector<EntryPointInfo> infos;
    if (failed(bindEntryPoints(module, entries, infos)) ||
        failed(cpu::bufferizeDispatches(module)))
      signalPassFailure();
  }
};

/// Test only: restrictCausalAttention on every function (linalg on tensors).
struct TestRestrictCausalAttentionPass
    : PassWrapper<TestRestrictCausalAttentionPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestRestrictCausalAttentionPass)
  StringRef getArgument() const override { return "kiln-test-restrict-causal-attention"; }
  StringRef getDescription() const override {
    return "Test only: causal attention's generics restricted to the causal triangle";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    cpu::registerCPUTargetDialects(registry); // value bounds of the key bound's sizes
  }
  void runOnOperation() override {
    for (func::FuncOp f : getOperation().getOps<func::FuncOp>())
      restrictCausalAttention(f);
  }
};

/// Test only: fillInsteadOfCopy on every function (on buffers).
struct TestFillInsteadOfCopyPass
    : PassWrapper<TestFillInsteadOfCopyPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestFillInsteadOfCopyPass)
  StringRef getArgument() const override { return "kiln-test-fill-instead-of-copy"; }
  StringRef getDescription() const override {
    return "Test only: copies of a buffer holding only a fill become fills";
  }
  void runOnOperation() override {
    for (func::FuncOp f : getOperation().getOps<func::FuncOp>())
      fillInsteadOfCopy(f);
  }
};

/// Test only: markDistinctArguments (outlined ops on buffers and their callers).
struct TestMarkDistinctArgumentsPass
    : PassWrapper<TestMarkDistinctArgumentsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestMarkDistinctArgumentsPass)
  StringRef getArgument() const override { return "kiln-test-mark-distinct-arguments"; }
  StringRef getDescription() const override {
    return "Test only: record the outlined ops' arguments that are buffers of their own";
  }
  void runOnOperation() override { markDistinctArguments(getOperation()); }
};

/// Test only: boundTriangularLoops (outlined ops on buffers).
struct TestBoundTriangularLoopsPass
    : PassWrapper<TestBoundTriangularLoopsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestBoundTriangularLoopsPass)
  StringRef getArgument() const override { return "kiln-test-bound-triangular-loops"; }
  StringRef getDescription() const override {
    return "Test only: triangular generics of outlined ops as loops stopped at the triangle";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<scf::SCFDialect, vector::VectorDialect>();
  }
  void runOnOperation() override { boundTriangularLoops(getOperation()); }
};
} // namespace

void registerKilnPipelines() {
  PassPipelineRegistration<>("kiln-to-linalg",
                             "kiln dialect -> linalg on tensors, as kilnc --emit=linalg",
                             buildLowerToLinalgPipeline);
  PassRegistration<TestBufferizeEntryPointsPass>();
  PassRegistration<TestRestrictCausalAttentionPass>();
  PassRegistration<TestBoundTriangularLoopsPass>();
  PassRegistration<TestFillInsteadOfCopyPass>();
  PassRegistration<TestMarkDistinctArgumentsPass>();
}

namespace {

/// The symbolic name of dynamic dimension `axis` of a signature tensor: from `kiln.dims`, or
/// `<name>_<axis>` (docs/artifact-export.md).
std::string dimSymbol(DictionaryAttr attrs, StringRef name, unsigned dynIndex, unsigned axis) {
  if (attrs)
    if (auto dims = attrs.getAs<ArrayAttr>("kiln.dims"))
      if (dynIndex < dims.size())
        if (auto s = dyn_cast<StringAttr>(dims[dynIndex]))
          return s.str();
  return (name + "_" + Twine(axis)).str();
}

unsigned elementBytes(Type t) { return std::max<unsigned>(1, t.getIntOrFloatBitWidth() / 8); }

LogicalResult bindFunction(func::FuncOp f, ArrayRef<ParamOp> params, EntryPointInfo &info) {
  MLIRContext *ctx = f.getContext();
  info.name = f.getSymName().str();
  info.dispatch = info.name;
  if (f.getBody().getBlocks().size() != 1)
    return f.emitError() << "entry point '" << info.name << "' must have a single block";
  FunctionType type = f.getFunctionType();
  auto scalarIndex = [&](const std::string &sym) {
    auto it = llvm::find(info.scalars, sym);
    if (it != info.scalars.end())
      return int(it - info.scalars.begin());
    info.scalars.push_back(sym);
    return int(info.scalars.size() - 1);
  };
  auto signatureBinding = [&](Type t, DictionaryAttr attrs, StringRef key, unsigned index,
                              BindingInfo::Kind kind, BindingInfo &out) -> LogicalResult {
    auto tensor = dyn_cast<RankedTensorType>(t);
    if (!tensor || !tensor.getElementType().isIntOrFloat())
      return f.emitError() << "entry point '" << info.name << "': signature value #" << index
                           << " has type " << t << "; expected a ranked tensor of numbers";
    StringAttr name = attrs ? attrs.getAs<StringAttr>(key) : StringAttr();
    if (!name)
      return f.emitError() << "entry point '" << info.name << "': signature value #" << index
                           << " has no " << key << " name";
    out.kind = kind;
    out.name = name.str();
    out.elementBytes = elementBytes(tensor.getElementType());
    unsigned dyn = 0;
    for (auto [axis, size] : llvm::enumerate(tensor.getShape())) {
      out.shape.push_back(ShapedType::isDynamic(size) ? -1 : size);
      out.dimScalars.push_back(ShapedType::isDynamic(size)
                                   ? scalarIndex(dimSymbol(attrs, out.name, dyn++, axis))
                                   : -1);
    }
    return success();
  };

  auto stateName = [](DictionaryAttr attrs) {
    auto name = attrs ? attrs.getAs<StringAttr>(KilnDialect::kStateAttrName) : StringAttr();
    return name ? name.getValue() : StringRef();
  };
  std::vector<BindingInfo> inputs, outputs, paramBindings;
  // Argument index of each state name.
  llvm::StringMap<unsigned> stateArgs;
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    bool state = !stateName(f.getArgAttrDict(i)).empty();
    if (state)
      stateArgs[stateName(f.getArgAttrDict(i))] = i;
    if (failed(signatureBinding(type.getInput(i), f.getArgAttrDict(i),
                                state ? KilnDialect::kStateAttrName : KilnDialect::kInputAttrName,
                                i, state ? BindingInfo::State : BindingInfo::Input,
                                inputs.emplace_back())))
      return failure();
  }
  // Results that are state go back into their argument's buffer; the others are outputs.
  SmallVector<int> resultState(type.getNumResults(), -1);
  SmallVector<Type> outputTypes;
  for (unsigned i = 0; i < type.getNumResults(); ++i) {
    if (StringRef state = stateName(f.getResultAttrDict(i)); !state.empty()) {
      auto it = stateArgs.find(state);
      if (it == stateArgs.end() || type.getInput(it->second) != type.getResult(i))
        return f.emitError() << "entry point '" << info.name << "': state result '" << state
                             << "' has no state argument of the same name and type";
      resultState[i] = it->second;
      continue;
    }
    outputTypes.push_back(type.getResult(i));
    if (failed(signatureBinding(type.getResult(i), f.getResultAttrDict(i), "kiln.output", i,
                                BindingInfo::Output, outputs.emplace_back())))
      return failure();
  }

  Block &entry = f.getBody().front();
  OpBuilder b(ctx);
  b.setInsertionPointToStart(&entry);
  Location loc = f.getLoc();
  SmallVector<Type> newInputs;
  // Inputs: read-only buffers; state: read-write.
  cpu::readArgumentsFromBuffers(f, newInputs);
  for (const auto &state : stateArgs)
    for (Operation *user : entry.getArgument(state.second).getUsers())
      if (auto read = dyn_cast<bufferization::ToTensorOp>(user))
        read.setWritable(true);
  // State results: written back into the state argument (in place after bufferization, so
  // the materialization is a copy of a buffer onto itself, which bufferizeDispatches drops).
  f.walk([&](func::ReturnOp ret) {
    b.setInsertionPoint(ret);
    SmallVector<Value> kept;
    for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
      if (resultState[i] < 0) {
        kept.push_back(value);
        continue;
      }
      b.create<bufferization::MaterializeInDestinationOp>(
          ret.getLoc(), TypeRange(), value, entry.getArgument(resultState[i]),
          /*restrict=*/false, /*writable=*/true);
    }
    ret->setOperands(kept);
  });
  b.setInsertionPointToStart(&entry);
  // Parameters the entry point reads, in the parameter table's order.
  llvm::StringMap<SmallVector<ParamRefOp>> refs;
  f.walk([&](ParamRefOp ref) { refs[ref.getName()].push_back(ref); });
  for (ParamOp p : params) {
    auto it = refs.find(p.getSymName());
    if (it == refs.end())
      continue;
    MemRefType memref = cpu::bufferTypeOf(p.getType());
    newInputs.push_back(memref);
    BlockArgument arg = entry.addArgument(memref, p.getLoc());
    auto read = b.create<bufferization::ToTensorOp>(loc, arg, /*restrict=*/true,
                                                    /*writable=*/false);
    for (ParamRefOp ref : it->second) {
      ref.getResult().replaceAllUsesWith(read.getResult());
      ref.erase();
    }
    BindingInfo &bind = paramBindings.emplace_back();
    bind.kind = BindingInfo::Parameter;
    bind.name = p.getSymName().str();
    bind.elementBytes = elementBytes(memref.getElementType());
    for (int64_t size : memref.getShape()) {
      bind.shape.push_back(size);
      bind.dimScalars.push_back(-1);
    }
    refs.erase(it);
  }
  if (!refs.empty())
    return f.emitError() << "entry point '" << info.name << "' reads undeclared parameter '"
                         << refs.begin()->first() << "'";
  // Outputs: written in place at the return.
  cpu::writeResultsToBuffers(f, outputTypes, newInputs);
  f.setFunctionType(FunctionType::get(ctx, newInputs, {}));
  f.setAllArgAttrs(ArrayRef<DictionaryAttr>{});
  f.setAllResultAttrs(ArrayRef<DictionaryAttr>{});
  // The implementation; the ABI wrapper takes the entry point's name.
  f.setSymName(("kiln_entry_" + info.name));

  info.bindings = std::move(inputs);
  llvm::append_range(info.bindings, paramBindings);
  llvm::append_range(info.bindings, outputs);
  return success();
}

} // namespace

LogicalResult bindEntryPoints(ModuleOp module, ArrayRef<std::string> entries,
                              std::vector<EntryPointInfo> &infos) {
  module.getContext()->loadDialect<bufferization::BufferizationDialect, memref::MemRefDialect>();
  SmallVector<ParamOp> params(module.getOps<ParamOp>());
  SmallVector<func::FuncOp> keep;
  llvm::StringSet<> found;
  for (func::FuncOp f : llvm::make_early_inc_range(module.getOps<func::FuncOp>())) {
    if (f.isPrivate() || f.isExternal())
      continue;
    if (!entries.empty() && !llvm::is_contained(entries, f.getSymName().str())) {
      f.erase();
      continue;
    }
    found.insert(f.getSymName());
    keep.push_back(f);
  }
  for (const std::string &e : entries)
    if (!found.contains(e))
      return module.emitError() << "the model has no entry point '" << e << "'";
  for (func::FuncOp f : keep)
    if (failed(bindFunction(f, params, infos.emplace_back())))
      return failure();
  for (ParamOp p : params)
    p.erase();
  return success();
}

namespace {

/// Lets LLVM reassociate (and contract) the float arithmetic of every outlined op with a
/// reduction loop: a loop summing into one value (attention's `QK^T` over the head dimension,
/// a norm's mean) is then vectorized, where strict IEEE order kept it one scalar add after
/// another. The tuned dispatches reassociate such sums already (vector accumulators).
void reassociateReductions(ModuleOp module) {
  auto flags = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  for (func::FuncOp f : module.getOps<func::FuncOp>()) {
    if (!f->hasAttr(dispatch::kOutlinedOpAttr))
      continue;
    f.walk([&](linalg::LinalgOp op) {
      if (op.getNumReductionLoops() == 0)
        return;
      op->walk([&](arith::ArithFastMathInterface math) {
        // Optional on some ops (arith.extf: bf16 weights widened in the loop).
        arith::FastMathFlagsAttr old = math.getFastMathFlagsAttr();
        arith::FastMathFlags value = old ? old.getValue() | flags : flags;
        math->setAttr(math.getFastMathAttrName(),
                      arith::FastMathFlagsAttr::get(op->getContext(), value));
      });
    });
  }
}

} // namespace

LogicalResult lowerEntryPointsToLLVM(ModuleOp module, ArrayRef<EntryPointInfo> infos,
                                     const cpu::CPUTargetOptions &options,
                                     std::vector<cpu::DispatchInfo> &chunkInfos) {
  // Causal attention over its triangle only, not the whole [queries, keys] rectangle.
  for (const EntryPointInfo &info : infos)
    if (auto f = module.lookupSymbol<func::FuncOp>("kiln_entry_" + info.name))
      restrictCausalAttention(f);
  if (failed(cpu::bufferizeDispatches(module)))
    return failure();
  // Each op of the whole entry points in a function of its own, one per distinct op: the
  // layers share them, so LLVM optimizes each op once rather than once per layer.
  SmallVector<func::FuncOp> entries;
  for (const EntryPointInfo &info : infos)
    if (auto f = module.lookupSymbol<func::FuncOp>("kiln_entry_" + info.name))
      entries.push_back(f);
  // Accumulators filled where bufferization copied one shared fill; a matmul right after a
  // zero fill writes its product in place.
  for (func::FuncOp entry : entries) {
    fillInsteadOfCopy(entry);
    markZeroInitMatmuls(entry);
  }
  dispatch::outlineBufferOps(module, entries);
  // Each temporary freed after its last use, not when the entry point returns.
  for (func::FuncOp entry : entries)
    shortenBufferLifetimes(entry);
  reassociateReductions(module);
  OwningOpRef<ModuleOp> chunks;
  if (failed(chunkDynamicMatmuls(module, options, chunks, chunkInfos)))
    return failure();
  // The other ops in slices on the runtime's threads, when large enough.
  prepareThreadedOps(module);
  // Causal attention's loops stopped at the triangle (after the threading chose its loops);
  // each op's buffers of its own recorded for `noalias`.
  boundTriangularLoops(module);
  markDistinctArguments(module);
  std::vector<std::string> entryNames;
  for (func::FuncOp entry : entries)
    entryNames.push_back(entry.getSymName().str());
  if (failed(cpu::lowerToLLVMDialect(module, /*barePtrCallConv=*/false)) ||
      failed(routeChunkCallsThroughHost(module)) ||
      failed(spreadThreadedOps(module, entryNames)))
    return failure();
  addNoAliasToDistinctArguments(module);

  // ABI wrappers: rebuild each memref descriptor from its buffer pointer and the scalars.
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = module.getLoc();
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  Type i64 = b.getI64Type();
  for (const EntryPointInfo &info : infos) {
    auto impl = module.lookupSymbol<LLVM::LLVMFuncOp>("kiln_entry_" + info.name);
    if (!impl)
      return module.emitError() << "entry point '" << info.name << "' was lost in lowering";
    impl.setLinkage(LLVM::Linkage::Internal);
    SmallVector<Type> argTypes(info.bindings.size(), ptr);
    argTypes.append(info.scalars.size() + 2, i64);
    b.setInsertionPointToEnd(module.getBody());
    auto wrapper = b.create<LLVM::LLVMFuncOp>(
        loc, info.dispatch, LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), argTypes));
    Block *body = wrapper.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    auto constant = [&](int64_t v) -> Value {
      return b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(v));
    };
    Value zero = constant(0);
    SmallVector<Value> args;
    for (auto [i, bind] : llvm::enumerate(info.bindings)) {
      Value p = body->getArgument(i);
      SmallVector<Value> sizes, strides(bind.shape.size());
      for (auto [d, size] : llvm::enumerate(bind.shape))
        sizes.push_back(size >= 0 ? constant(size)
                                  : body->getArgument(info.bindings.size() + bind.dimScalars[d]));
      Value stride = constant(1);
      for (size_t d = bind.shape.size(); d-- > 0;) {
        strides[d] = stride;
        if (d)
          stride = b.create<LLVM::MulOp>(loc, stride, sizes[d]);
      }
      args.append({p, p, zero});
      args.append(sizes);
      args.append(strides);
    }
    if (impl.getFunctionType().getNumParams() != args.size())
      return module.emitError() << "entry point '" << info.name << "': ABI wrapper passes "
                                << args.size() << " values, the lowered function takes "
                                << impl.getFunctionType().getNumParams();
    b.create<LLVM::CallOp>(loc, impl, args);
    b.create<LLVM::ReturnOp>(loc, ValueRange());
  }
  return failure(chunks && failed(mergeLLVMModules(module, *chunks)));
}

std::vector<cpu::DispatchInfo> cpuDispatchInfos(ArrayRef<EntryPointInfo> infos) {
  std::vector<cpu::DispatchInfo> out;
  for (const EntryPointInfo &info : infos) {
    cpu::DispatchInfo &d = out.emplace_back();
    d.name = info.dispatch;
    for (const BindingInfo &bind : info.bindings) {
      // Dynamic bindings have no compile-time minimum size: the runtime checks them against
      // the bound symbols.
      bool dynamic = llvm::is_contained(bind.shape, int64_t(-1));
      d.bufferShapes.push_back(dynamic ? std::vector<int64_t>{0} : bind.shape);
      d.bufferElementBytes.push_back(bind.elementBytes);
    }
    d.numScalars = info.scalars.size();
  }
  return out;
}

std::string scheduleJson(const EntryPointInfo &info) {
  static const char *kinds[] = {"input", "parameter", "output", "state"};
  llvm::json::Array buffers;
  for (const BindingInfo &bind : info.bindings)
    buffers.push_back(llvm::json::Object{{"kind", kinds[bind.kind]}, {"name", bind.name}});
  llvm::json::Array scalars;
  for (const std::string &s : info.scalars)
    scalars.push_back(s);
  llvm::json::Object dispatch{{"dispatch", info.dispatch},
                              {"workgroups", llvm::json::Array{1, 1, 1}},
                              {"buffers", std::move(buffers)},
                              {"scalars", std::move(scalars)}};
  llvm::json::Object root{{"version", 1},
                          {"entry_point", info.name},
                          {"dispatches", llvm::json::Array{std::move(dispatch)}}};
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::json::Value(std::move(root));
  return out;
}

} // namespace kiln
