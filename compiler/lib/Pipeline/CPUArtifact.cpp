//===- CPUArtifact.cpp - The CPU code section and schedules of an artifact ===//
//
// kiln dialect -> linalg -> one dispatch per entry point -> shared object, added to the
// artifact being written with one schedule section per entry point (docs/artifact.md).
// With --specialize, `forward`, `encode`, `prefill` and `decode` are instead specialized to
// static sizes
// and cut into per-op dispatches (docs/dispatch.md), compiled by the CPU target into the same
// shared object, and their schedules carry the temporaries and the arena plan.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dialect/Kiln/Transforms/Passes.h"
#include "kiln/Dispatch/Dispatch.h"
#include "kiln/Dispatch/Passes.h"
#include "kiln/rt/artifact/Artifact.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/JSON.h"

using namespace mlir;

namespace kiln {

static constexpr const char *kCPUTarget = "cpu-x86_64";

ArrayRef<std::string> compiledEntryPoints() {
  static const std::string entries[] = {"forward", "encode", "prefill", "decode"};
  return entries;
}

/// The compiled entry points `module` has (forward is required).
static std::vector<std::string> presentEntryPoints(ModuleOp module) {
  std::vector<std::string> present;
  for (const std::string &e : compiledEntryPoints())
    if (e == "forward" || module.lookupSymbol(e))
      present.push_back(e);
  return present;
}

LogicalResult lowerForEmit(ModuleOp module, bool toLLVM, const cpu::CPUTargetOptions &options) {
  PassManager pm(module.getContext());
  buildLowerToLinalgPipeline(pm);
  if (failed(pm.run(module)))
    return failure();
  if (!toLLVM)
    return success();
  std::vector<EntryPointInfo> infos;
  std::vector<cpu::DispatchInfo> chunkInfos;
  return failure(failed(bindEntryPoints(module, presentEntryPoints(module), infos)) ||
                 failed(lowerEntryPointsToLLVM(module, infos, options, chunkInfos)));
}

LogicalResult mergeLLVMModules(ModuleOp into, ModuleOp from) {
  SymbolTable intoTable(into), fromTable(from);
  for (Operation &op : llvm::make_early_inc_range(*from.getBody())) {
    auto sym = dyn_cast<SymbolOpInterface>(&op);
    if (!sym)
      continue;
    Operation *existing = intoTable.lookup(sym.getNameAttr());
    if (!existing)
      continue;
    auto a = dyn_cast<LLVM::LLVMFuncOp>(existing), b = dyn_cast<LLVM::LLVMFuncOp>(&op);
    if (a && b && a.isExternal() && b.isExternal() &&
        a.getFunctionType() == b.getFunctionType()) {
      fromTable.erase(&op);
      continue;
    }
    if (failed(fromTable.renameToUnique(&op, {&intoTable})))
      return from.emitError() << "cannot merge symbol '" << sym.getName() << "'";
  }
  for (Operation &op : llvm::make_early_inc_range(*from.getBody()))
    op.moveBefore(into.getBody(), into.getBody()->end());
  return success();
}

namespace {

/// The sizes entry point `name` is specialized to: forward at the spec's sizes; encode (the
/// source length `seq`) and prefill (its decoder length is the prefill chunk) at the spec's
/// sizes too; decode at the spec's batch (its sequence is 1 already) and, for an
/// encoder-decoder model, source length. Only the entry point's own dimensions are bound.
FailureOr<llvm::StringMap<int64_t>> entrySizes(func::FuncOp f,
                                               const llvm::StringMap<int64_t> &sizes) {
  if (f.getSymName() == "forward")
    return sizes;
  llvm::StringMap<int64_t> bound;
  for (const std::string &dim : dispatch::dynamicDimNames(f)) {
    auto it = sizes.find(dim);
    if (it == sizes.end())
      return f.emitError() << "--specialize: entry point '" << f.getSymName()
                           << "' has the dimension '" << dim << "', which the spec does not size";
    bound[dim] = it->second;
  }
  return bound;
}

/// A dispatch whose results update operands in place (a KV-cache append,
/// dispatch::tiedOperand) in the CPU target's memref ABI: every operand and result is a buffer
/// as usual, but the tied operand is read through its result's buffer (the schedule binds both
/// to the same state buffer), so that bufferization writes only the new rows into it instead
/// of copying the whole cache.
void bindTiedResults(func::FuncOp f) {
  FunctionType type = f.getFunctionType();
  SmallVector<std::pair<unsigned, unsigned>> tied; // (result, operand)
  for (unsigned r = 0; r < type.getNumResults(); ++r)
    if (std::optional<unsigned> operand = dispatch::tiedOperand(f, r))
      tied.emplace_back(r, *operand);
  if (tied.empty())
    return;
  SmallVector<Type> argTypes;
  cpu::readArgumentsFromBuffers(f, argTypes);
  cpu::writeResultsToBuffers(f, type.getResults(), argTypes);
  f.setFunctionType(FunctionType::get(f.getContext(), argTypes, {}));
  Block &body = f.getBody().front();
  for (auto [r, operand] : tied) {
    BlockArgument in = body.getArgument(operand);
    BlockArgument out = body.getArgument(type.getNumInputs() + r);
    for (Operation *user : llvm::make_early_inc_range(in.getUsers()))
      if (auto read = dyn_cast<bufferization::ToTensorOp>(user)) {
        read->setOperand(0, out);
        read.setWritable(true);
      }
    // The result is stored onto the buffer it was read from: not `restrict`.
    for (Operation *user : out.getUsers())
      if (auto store = dyn_cast<bufferization::MaterializeInDestinationOp>(user))
        store.setRestrict(false);
  }
}

/// The entry points kilnc --specialize cuts into per-op dispatches (forward, and encode /
/// prefill / decode when the model has them), in ONE module clone so that identical dispatches can be
/// shared across entry points; compiled by the CPU target to the LLVM dialect (`llvmModule`,
/// dispatch table entries `infos`), with each entry point's schedule JSON (`schedules`) and
/// each dispatch's workgroup count.
LogicalResult compileSpecialized(ModuleOp module, const llvm::StringMap<int64_t> &sizes,
                                 const cpu::CPUTargetOptions &options,
                                 OwningOpRef<ModuleOp> &llvmModule,
                                 std::vector<cpu::DispatchInfo> &infos,
                                 std::vector<std::pair<std::string, std::string>> &schedules,
                                 std::vector<std::string> &cut) {
  MLIRContext *ctx = module.getContext();
  // The CPU target builds ops of dialects the kiln module does not use yet.
  ctx->loadAllAvailableDialects();
  OwningOpRef<ModuleOp> clone(module.clone());
  if (!clone->lookupSymbol<func::FuncOp>("forward"))
    return module.emitError() << "--specialize: the model has no entry point 'forward'";
  std::vector<std::string> candidates = {"forward"};
  if (clone->lookupSymbol<func::FuncOp>("encode"))
    candidates.push_back("encode");
  if (clone->lookupSymbol<func::FuncOp>("prefill") && clone->lookupSymbol<func::FuncOp>("decode"))
    candidates.insert(candidates.end(), {"prefill", "decode"});
  // The other functions (@loss, which calls forward) are compiled whole from the original
  // module.
  for (func::FuncOp f : llvm::make_early_inc_range(clone->getOps<func::FuncOp>()))
    if (!llvm::is_contained(candidates, f.getSymName().str()))
      f.erase();

  // The errors name the entry point and the dimension; the function's IR adds nothing.
  bool printOp = ctx->shouldPrintOpOnDiagnostic();
  ctx->printOpOnDiagnostic(false);
  auto specialize = [&](StringRef name) -> LogicalResult {
    auto f = clone->lookupSymbol<func::FuncOp>(name);
    FailureOr<llvm::StringMap<int64_t>> bound = entrySizes(f, sizes);
    return failure(failed(bound) || failed(dispatch::specializeShapes(f, *bound)));
  };
  LogicalResult forwardOk = specialize("forward");
  cut = {"forward"};
  // encode, and prefill with decode, that cannot be made static (a model whose cache readers
  // are not position-aware causal attention) stay whole dispatches, with a warning.
  auto specializeOrKeepWhole = [&](ArrayRef<std::string> group, StringRef what) {
    if (!llvm::all_of(group, [&](const std::string &e) {
          return llvm::is_contained(candidates, e);
        }))
      return;
    std::string why;
    LogicalResult ok = success();
    {
      ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &d) {
        if (d.getSeverity() == DiagnosticSeverity::Error && why.empty())
          why = d.str();
        return success();
      });
      for (const std::string &e : group)
        if (succeeded(ok))
          ok = specialize(e);
    }
    if (succeeded(ok)) {
      cut.insert(cut.end(), group.begin(), group.end());
      return;
    }
    emitWarning(module.getLoc()) << "--specialize: " << what << " compiled whole: " << why;
    for (const std::string &e : group)
      clone->lookupSymbol<func::FuncOp>(e).erase();
  };
  if (succeeded(forwardOk)) {
    specializeOrKeepWhole({"encode"}, "encode is");
    specializeOrKeepWhole({"prefill", "decode"}, "prefill and decode are");
  }
  ctx->printOpOnDiagnostic(printOp);
  if (failed(forwardOk))
    return failure();
  {
    PassManager pm(ctx);
    pm.addPass(createKilnStripDropout());
    buildLowerToLinalgPipeline(pm);
    pm.addPass(createKilnDispatchFusion());
    KilnFormDispatchesOptions formOptions;
    formOptions.entries = cut;
    pm.addPass(createKilnFormDispatches(formOptions));
    // Identical dispatches (the layers', and forward's and prefill's at equal shapes) are
    // compiled once: the schedules name the surviving function.
    pm.addPass(createKilnDedupeDispatches());
    if (failed(pm.run(*clone)))
      return failure();
  }
  std::vector<dispatch::Schedule> built;
  for (const std::string &entry : cut) {
    FailureOr<dispatch::Schedule> schedule =
        dispatch::buildSchedule(clone->lookupSymbol<func::FuncOp>(entry));
    if (failed(schedule))
      return failure();
    dispatch::planArena(*schedule);
    built.push_back(std::move(*schedule));
  }
  {
    PassManager pm(ctx);
    pm.addPass(createKilnExtractDispatches());
    if (failed(pm.run(*clone)))
      return failure();
  }
  for (func::FuncOp f : clone->getOps<func::FuncOp>())
    bindTiedResults(f);
  if (failed(cpu::compileToLLVMDialect(*clone, options, infos)))
    return failure();

  for (const dispatch::Schedule &schedule : built) {
    StringRef entry = schedule.entryPoint;
    llvm::Expected<llvm::json::Value> json = llvm::json::parse(dispatch::scheduleToJson(schedule));
    if (!json) {
      llvm::consumeError(json.takeError());
      return module.emitError() << entry << ": the dispatch schedule is not valid JSON";
    }
    llvm::json::Array *dispatches = json->getAsObject()->getArray("dispatches");
    for (llvm::json::Value &d : *dispatches) {
      llvm::json::Object &object = *d.getAsObject();
      std::optional<StringRef> name = object.getString("dispatch");
      const cpu::DispatchInfo *info = nullptr;
      for (const cpu::DispatchInfo &i : infos)
        if (name && i.name == *name)
          info = &i;
      if (!info)
        return module.emitError() << entry << ": dispatch '" << name.value_or("")
                                  << "' was not compiled by the CPU target";
      object["workgroups"] = llvm::json::Array{info->workgroupCount[0], info->workgroupCount[1],
                                               info->workgroupCount[2]};
    }
    std::string text;
    llvm::raw_string_ostream os(text);
    os << *json;
    schedules.emplace_back(entry.str(), std::move(text));
  }
  llvmModule = std::move(clone);
  return success();
}

} // namespace

LogicalResult addCPUTarget(ModuleOp module, rt::Manifest &manifest, rt::ArtifactWriter &writer,
                           const cpu::CPUTargetOptions &options,
                           const llvm::StringMap<int64_t> *specialize) {
  std::vector<std::pair<std::string, std::string>> schedules; // (entry point, JSON)
  std::vector<cpu::DispatchInfo> dispatchInfos;

  // Per-op dispatches of the specialized entry points.
  OwningOpRef<ModuleOp> forwardModule;
  std::vector<std::string> cut;
  if (specialize && failed(compileSpecialized(module, *specialize, options, forwardModule,
                                              dispatchInfos, schedules, cut)))
    return failure();

  // Every other compiled entry point: one whole dispatch.
  std::vector<std::string> whole;
  for (const std::string &e : presentEntryPoints(module))
    if (!llvm::is_contained(cut, e))
      whole.push_back(e);
  OwningOpRef<ModuleOp> clone;
  if (!whole.empty()) {
    clone = module.clone();
    PassManager pm(module.getContext());
    buildLowerToLinalgPipeline(pm);
    std::vector<EntryPointInfo> infos;
    std::vector<cpu::DispatchInfo> chunkInfos;
    if (failed(pm.run(*clone)) || failed(bindEntryPoints(*clone, whole, infos)) ||
        failed(lowerEntryPointsToLLVM(*clone, infos, options, chunkInfos)))
      return failure();
    llvm::append_range(dispatchInfos, cpuDispatchInfos(infos));
    llvm::append_range(dispatchInfos, chunkInfos);
    for (const EntryPointInfo &info : infos)
      schedules.emplace_back(info.name, scheduleJson(info));
  }
  if (!clone)
    clone = std::move(forwardModule);
  else if (forwardModule && failed(mergeLLVMModules(*clone, *forwardModule)))
    return failure();

  std::string blob;
  if (failed(cpu::emitSharedObject(*clone, dispatchInfos, options, blob)))
    return failure();

  // What the code was compiled for, so that the runtime refuses it on a CPU that lacks an
  // extension it may use instead of dying of SIGILL.
  cpu::ResolvedCPU resolved;
  std::string error;
  if (failed(cpu::resolveCPUTarget(options, resolved, error)))
    return emitError(module.getLoc()) << "CPU target: " << error;
  rt::Target target;
  target.name = kCPUTarget;
  target.codeSection = std::string("code/") + kCPUTarget;
  target.cpu = resolved.cpu;
  target.cpuFeatures = cpu::requiredCPUFeatures(resolved);
  std::string codeSection = target.codeSection;
  manifest.targets.push_back(std::move(target));
  writer.addSection(codeSection, rt::SectionKind::Code, blob.data(), blob.size());
  for (const auto &[entry, json] : schedules) {
    std::string name = "schedule/" + std::string(kCPUTarget) + "/" + entry;
    writer.addSection(name, rt::SectionKind::Schedule, json.data(), json.size());
    bool found = false;
    for (rt::EntryPoint &e : manifest.entryPoints)
      if (e.name == entry) {
        e.schedules.emplace_back(kCPUTarget, name);
        found = true;
      }
    if (!found)
      return emitError(module.getLoc())
             << "entry point '" << entry << "' is missing from the manifest";
  }
  return success();
}

} // namespace kiln
