//===- CPUArtifact.cpp - The CPU code section and schedules of an artifact ===//
//
// kiln dialect -> linalg -> one dispatch per entry point -> shared object, added to the
// artifact being written with one schedule section per entry point (docs/artifact.md).
//
//===----------------------------------------------------------------------===//
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/rt/artifact/Artifact.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

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

LogicalResult addCPUTarget(ModuleOp module, rt::Manifest &manifest, rt::ArtifactWriter &writer,
                           const cpu::CPUTargetOptions &options) {
  OwningOpRef<ModuleOp> clone(module.clone());
  PassManager pm(module.getContext());
  buildLowerToLinalgPipeline(pm);
  std::vector<EntryPointInfo> infos;
  if (failed(pm.run(*clone)) || failed(bindEntryPoints(*clone, presentEntryPoints(*clone), infos)) ||
      failed(lowerEntryPointsToLLVM(*clone, infos)))
    return failure();
  std::string blob;
  if (failed(cpu::emitSharedObject(*clone, cpuDispatchInfos(infos), options, blob)))
    return failure();

  std::string codeSection = std::string("code/") + kCPUTarget;
  manifest.targets.push_back({kCPUTarget, codeSection});
  writer.addSection(codeSection, rt::SectionKind::Code, blob.data(), blob.size());
  for (const EntryPointInfo &info : infos) {
    std::string name = "schedule/" + std::string(kCPUTarget) + "/" + info.name;
    std::string json = scheduleJson(info);
    writer.addSection(name, rt::SectionKind::Schedule, json.data(), json.size());
    bool found = false;
    for (rt::EntryPoint &e : manifest.entryPoints)
      if (e.name == info.name) {
        e.schedules.emplace_back(kCPUTarget, name);
        found = true;
      }
    if (!found)
      return emitError(module.getLoc())
             << "entry point '" << info.name << "' is missing from the manifest";
  }
  return success();
}

} // namespace kiln
