//===- TargetCPU.cpp - Which CPU the code is compiled for -----------------===//
//
// `CPUTargetOptions::cpu` / `features` name the CPU the dispatches are compiled for: "host"
// (the compiling machine, the default) or any LLVM CPU name of the process's architecture
// (`x86-64-v3`, `znver4`, ...) with features added or removed (`+avx512f,-avx512bw`). Everything
// that depends on the CPU asks here: the TargetMachine (Emit.cpp), the schedules' vector width
// (Schedule.cpp) and the ISA extensions the artifact records for the runtime to check
// (CPUArtifact.cpp). The answers come from LLVM's own CPU tables (MCSubtargetInfo), so
// `x86-64-v4` has AVX-512 whether or not the compiling machine does.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "kiln/rt/cpu/CPUFeatures.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>

namespace kiln::cpu {
namespace {

/// The LLVM target of the process's triple: the code runs where the runtime runs, an x86-64
/// Linux process like the compiler.
const llvm::Target *nativeTarget(std::string &triple, std::string &error) {
  llvm::InitializeNativeTarget();
  triple = llvm::sys::getProcessTriple();
  return llvm::TargetRegistry::lookupTarget(triple, error);
}

std::unique_ptr<llvm::MCSubtargetInfo> subtargetInfo(const ResolvedCPU &cpu) {
  std::string triple, error;
  const llvm::Target *target = nativeTarget(triple, error);
  if (!target)
    return nullptr;
  return std::unique_ptr<llvm::MCSubtargetInfo>(
      target->createMCSubtargetInfo(cpu.triple, cpu.cpu, cpu.features));
}

/// Whether LLVM knows `feature` (without its sign) for the target of `generic`.
bool isKnownFeature(const llvm::MCSubtargetInfo &generic, llvm::StringRef feature) {
  for (const llvm::SubtargetFeatureKV &kv : generic.getAllProcessorFeatures())
    if (feature == kv.Key)
      return true;
  return false;
}

} // namespace

mlir::LogicalResult validateCPUTarget(llvm::StringRef cpu, llvm::StringRef features,
                                      std::string &error) {
  std::string triple;
  const llvm::Target *target = nativeTarget(triple, error);
  if (!target)
    return mlir::failure();
  // The generic CPU only serves to read LLVM's tables: creating a subtarget for an unknown
  // name or feature would merely print a warning and compile for something else.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(target->createMCSubtargetInfo(triple, "", ""));
  if (cpu.empty() || (cpu != "host" && !generic->isCPUStringValid(cpu))) {
    error = "unknown CPU '" + cpu.str() + "' for " + triple +
            ": 'host' or an LLVM CPU name such as x86-64-v3, x86-64-v4, znver3, znver4, "
            "sapphirerapids (`llc -mcpu=help` lists them)";
    return mlir::failure();
  }
  llvm::SmallVector<llvm::StringRef> items;
  features.split(items, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef item : items) {
    item = item.trim();
    if (item.empty())
      continue;
    if (item[0] != '+' && item[0] != '-') {
      error = "CPU feature '" + item.str() + "' must start with + (add) or - (remove)";
      return mlir::failure();
    }
    if (!isKnownFeature(*generic, item.drop_front())) {
      error = "unknown CPU feature '" + item.drop_front().str() + "' for " + triple +
              " (LLVM feature names such as avx2, fma, avx512f, avx512bw; `llc -mattr=help` "
              "lists them)";
      return mlir::failure();
    }
  }
  return mlir::success();
}

mlir::LogicalResult validateCPUOptions(llvm::StringRef cpu, llvm::StringRef features,
                                       llvm::StringRef cpuOption, llvm::StringRef featuresOption,
                                       std::string &error) {
  if (failed(validateCPUTarget(cpu, "", error))) {
    error = cpuOption.str() + ": " + error;
    return mlir::failure();
  }
  if (failed(validateCPUTarget(cpu, features, error))) {
    error = featuresOption.str() + ": " + error;
    return mlir::failure();
  }
  return mlir::success();
}

mlir::LogicalResult resolveCPUTarget(const CPUTargetOptions &options, ResolvedCPU &out,
                                     std::string &error) {
  if (failed(validateCPUTarget(options.cpu, options.features, error)))
    return mlir::failure();
  std::string triple;
  if (!nativeTarget(triple, error))
    return mlir::failure();
  out.triple = triple;
  out.cpu = options.cpu;
  out.features = options.features;
  if (out.cpu == "host") {
    out.cpu = llvm::sys::getHostCPUName().str();
    // StringMap order is unspecified: sort so that every run builds the same feature string.
    std::vector<std::string> host;
    for (const auto &f : llvm::sys::getHostCPUFeatures())
      host.push_back(std::string(f.second ? "+" : "-") + f.first().str());
    llvm::sort(host);
    std::string joined = llvm::join(host, ",");
    // The explicit features come last so that they win over the host's.
    out.features = out.features.empty() ? joined : joined + "," + out.features;
  }
  return mlir::success();
}

bool hasCPUFeature(const ResolvedCPU &cpu, llvm::StringRef feature) {
  std::unique_ptr<llvm::MCSubtargetInfo> sti = subtargetInfo(cpu);
  return sti && isKnownFeature(*sti, feature) && sti->checkFeatures(("+" + feature).str());
}

std::vector<std::string> requiredCPUFeatures(const ResolvedCPU &cpu) {
  std::vector<std::string> required;
  std::unique_ptr<llvm::MCSubtargetInfo> sti = subtargetInfo(cpu);
  if (!sti)
    return required;
  // kCheckedCPUFeatures is sorted, so is the result: the artifact's bytes do not vary.
  for (std::string_view f : rt::cpu::kCheckedCPUFeatures) {
    llvm::StringRef name(f.data(), f.size());
    if (isKnownFeature(*sti, name) && sti->checkFeatures(("+" + name).str()))
      required.push_back(name.str());
  }
  return required;
}

} // namespace kiln::cpu
