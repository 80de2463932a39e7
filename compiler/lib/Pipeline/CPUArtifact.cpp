//===- CPUArtifact.cpp - The CPU code section and schedules of an artifact ===//
//
// kiln dialect -> linalg -> one dispatch per entry point -> shared object, added to the
// artifact being written with one schedule section per entry point (docs/artifact.md).
// With --specialize, `forward` is instead specialized to static sizes and cut into per-op
// dispatches (docs/dispatch.md), compiled by the CPU target into the same shared object, and
// its schedule carries the temporaries and the arena plan.
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dialect/Kiln/Transforms/Passes.h"
#include "kiln/Dispatch/Dispatch.h"
#include "kiln/Dispatch/Passes.h"
#include "kiln/rt/artifact/Artifact.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/JSON.h"

using namespace mlir;

namespace kiln {

static constexpr const char *kCPUTarget = "cpu-x86_64";

ArrayRef<std::string> compiledEntryPoints() {
  static const std::string entries[] = {"forward", "prefill", "decode"};
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

LogicalResult lowerForEmit(ModuleOp module, bool toLLVM) {
  PassManager pm(module.getContext());
  buildLowerToLinalgPipeline(pm);
  if (failed(pm.run(module)))
    return failure();
  if (!toLLVM)
    return success();
  std::vector<EntryPointInfo> infos;
  return failure(failed(bindEntryPoints(module, presentEntryPoints(module), infos)) ||
                 failed(lowerEntryPointsToLLVM(module, infos)));
}

namespace {

/// Moves every operation of `from` into `into` (both in the LLVM dialect). An external
/// function declared in both is kept once; any other symbol of `from` that `into` already
/// defines is renamed first.
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

/// `forward` specialized to `sizes` and cut into per-op dispatches, compiled by the CPU target
/// to the LLVM dialect (`llvmModule`, dispatch table entries `infos`), and its schedule JSON
/// with each dispatch's workgroup count.
LogicalResult compileSpecializedForward(ModuleOp module, const llvm::StringMap<int64_t> &sizes,
                                        const cpu::CPUTargetOptions &options,
                                        OwningOpRef<ModuleOp> &llvmModule,
                                        std::vector<cpu::DispatchInfo> &infos,
                                        std::string &scheduleText) {
  MLIRContext *ctx = module.getContext();
  // The CPU target builds ops of dialects the kiln module does not use yet.
  ctx->loadAllAvailableDialects();
  OwningOpRef<ModuleOp> clone(module.clone());
  // Only forward is cut; the other entry points (and @loss, which calls it) are compiled
  // whole from the original module.
  for (func::FuncOp f : llvm::make_early_inc_range(clone->getOps<func::FuncOp>()))
    if (f.getSymName() != "forward")
      f.erase();
  auto forward = clone->lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError() << "--specialize: the model has no entry point 'forward'";
  // The errors name the entry point and the dimension; the function's IR adds nothing.
  bool printOp = ctx->shouldPrintOpOnDiagnostic();
  ctx->printOpOnDiagnostic(false);
  LogicalResult specialized = dispatch::specializeShapes(forward, sizes);
  ctx->printOpOnDiagnostic(printOp);
  if (failed(specialized))
    return failure();
  {
    PassManager pm(ctx);
    pm.addPass(createKilnStripDropout());
    buildLowerToLinalgPipeline(pm);
    pm.addPass(createKilnDispatchFusion());
    std::string entry = "forward";
    KilnFormDispatchesOptions formOptions;
    formOptions.entries = ArrayRef<std::string>(entry);
    pm.addPass(createKilnFormDispatches(formOptions));
    if (failed(pm.run(*clone)))
      return failure();
  }
  forward = clone->lookupSymbol<func::FuncOp>("forward");
  FailureOr<dispatch::Schedule> schedule = dispatch::buildSchedule(forward);
  if (failed(schedule))
    return failure();
  dispatch::planArena(*schedule);
  {
    PassManager pm(ctx);
    pm.addPass(createKilnExtractDispatches());
    if (failed(pm.run(*clone)))
      return failure();
  }
  if (failed(cpu::compileToLLVMDialect(*clone, options, infos)))
    return failure();

  llvm::Expected<llvm::json::Value> json = llvm::json::parse(dispatch::scheduleToJson(*schedule));
  if (!json) {
    llvm::consumeError(json.takeError());
    return module.emitError() << "forward: the dispatch schedule is not valid JSON";
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
      return module.emitError() << "forward: dispatch '" << name.value_or("")
                                << "' was not compiled by the CPU target";
    object["workgroups"] = llvm::json::Array{info->workgroupCount[0], info->workgroupCount[1],
                                             info->workgroupCount[2]};
  }
  llvm::raw_string_ostream os(scheduleText);
  os << *json;
  llvmModule = std::move(clone);
  return success();
}

} // namespace

LogicalResult addCPUTarget(ModuleOp module, rt::Manifest &manifest, rt::ArtifactWriter &writer,
                           const cpu::CPUTargetOptions &options,
                           const llvm::StringMap<int64_t> *specialize) {
  std::vector<std::pair<std::string, std::string>> schedules; // (entry point, JSON)
  std::vector<cpu::DispatchInfo> dispatchInfos;

  // Per-op dispatches of the specialized forward.
  OwningOpRef<ModuleOp> forwardModule;
  if (specialize) {
    std::string json;
    if (failed(compileSpecializedForward(module, *specialize, options, forwardModule,
                                         dispatchInfos, json)))
      return failure();
    schedules.emplace_back("forward", std::move(json));
  }

  // Every other compiled entry point: one whole dispatch.
  std::vector<std::string> whole;
  for (const std::string &e : presentEntryPoints(module))
    if (!(specialize && e == "forward"))
      whole.push_back(e);
  OwningOpRef<ModuleOp> clone;
  if (!whole.empty()) {
    clone = module.clone();
    PassManager pm(module.getContext());
    buildLowerToLinalgPipeline(pm);
    std::vector<EntryPointInfo> infos;
    if (failed(pm.run(*clone)) || failed(bindEntryPoints(*clone, whole, infos)) ||
        failed(lowerEntryPointsToLLVM(*clone, infos)))
      return failure();
    llvm::append_range(dispatchInfos, cpuDispatchInfos(infos));
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

  std::string codeSection = std::string("code/") + kCPUTarget;
  manifest.targets.push_back({kCPUTarget, codeSection});
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
