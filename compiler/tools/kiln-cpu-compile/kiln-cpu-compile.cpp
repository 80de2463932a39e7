//===- kiln-cpu-compile.cpp - Dispatch functions (.mlir) -> CPU code blob -===//
//
// Compiles a module of dispatch functions in linalg / tensor / arith / math on tensors (or
// memrefs written in place) into the native shared object the runtime's CPU driver loads:
//
//   kiln-cpu-compile dispatches.mlir -o dispatches.so [--jobs N]
//   kiln-cpu-compile dispatches.mlir --emit=scheduled|bufferized|llvm|llvm-ir
//
// Used by the lit tests and the matmul benchmark; kilnc runs the same stages.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>

namespace cl = llvm::cl;
using namespace mlir;

static cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<dispatches.mlir>"),
                                          cl::init("-"));
static cl::opt<std::string> outputFilename("o", cl::desc("Output file"), cl::value_desc("file"),
                                           cl::init("-"));
enum class Emit { Prepared, Scheduled, Bufferized, Distributed, LLVMDialect, LLVMIR, Blob };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to write"), cl::init(Emit::Blob),
    cl::values(clEnumValN(Emit::Prepared, "prepared", "dispatches in the in-place memref ABI"),
               clEnumValN(Emit::Scheduled, "scheduled", "after tiling and vectorization"),
               clEnumValN(Emit::Bufferized, "bufferized", "after bufferization"),
               clEnumValN(Emit::Distributed, "distributed", "after workgroup distribution"),
               clEnumValN(Emit::LLVMDialect, "llvm", "the LLVM dialect"),
               clEnumValN(Emit::LLVMIR, "llvm-ir", "optimized LLVM IR"),
               clEnumValN(Emit::Blob, "blob", "the shared object (default)")));
static cl::opt<std::string> cpu("mcpu",
                                cl::desc("Target CPU: host (default: this machine) or an LLVM "
                                         "CPU name (x86-64-v3, x86-64-v4, znver4, ...), as "
                                         "kilnc --cpu"),
                                cl::init("host"));
static cl::opt<std::string> mattr("mattr",
                                  cl::desc("Target features added (+) to or removed (-) from "
                                           "the CPU's, e.g. +avx512f; as kilnc --cpu-features"),
                                  cl::init(""));
static cl::opt<unsigned> optLevel("O", cl::desc("LLVM optimization level"), cl::init(3),
                                  cl::Prefix);
static cl::opt<unsigned> singleWorkgroupOptLevel(
    "single-workgroup-opt-level",
    cl::desc("At most this LLVM optimization level for dispatches with one workgroup"),
    cl::init(kiln::cpu::CPUTargetOptions().singleWorkgroupOptLevel));
static cl::opt<bool> dumpSchedules("dump-schedules",
                                   cl::desc("Print each dispatch's transform schedule"));
static cl::opt<unsigned> scheduleVectorBits(
    "schedule-vector-bits",
    cl::desc("Make the schedules for this vector width (256 or 512; default: the target's). "
             "The code is still for the target: 512-bit schedules run on AVX2, split in two"),
    cl::init(0));
static cl::opt<bool> prefetchPanels(
    "prefetch-panels",
    cl::desc("Matmul workgroups read the next workgroup's weight panel ahead (default on)"),
    cl::init(kiln::cpu::CPUTargetOptions().prefetchPanels));
static cl::opt<bool> printInfo("print-dispatches",
                               cl::desc("Print each dispatch's ABI summary to stderr"));
static cl::opt<bool> timing("time", cl::desc("Print compile time to stderr"));
static cl::opt<unsigned> jobs("jobs",
                              cl::desc("Threads optimizing and generating code, one dispatch "
                                       "each at a time (default 0: one per hardware thread); "
                                       "the output is the same for any N"),
                              cl::init(0));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "kiln-cpu-compile: dispatches -> CPU code blob\n");
  auto start = std::chrono::steady_clock::now();
  // The same check as kilnc's --cpu / --cpu-features, before any work.
  if (std::string error;
      failed(kiln::cpu::validateCPUOptions(cpu, mattr, "--mcpu", "--mattr", error))) {
    llvm::errs() << "kiln-cpu-compile: error: " << error << "\n";
    return 1;
  }

  DialectRegistry registry;
  kiln::cpu::registerCPUTargetDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);

  std::string error;
  auto input = openInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << "kiln-cpu-compile: " << error << "\n";
    return 1;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;

  kiln::cpu::CPUTargetOptions options;
  options.cpu = cpu;
  options.features = mattr;
  options.optLevel = optLevel;
  options.singleWorkgroupOptLevel = singleWorkgroupOptLevel;
  options.dumpSchedules = dumpSchedules;
  if (scheduleVectorBits != 0 && scheduleVectorBits != 256 && scheduleVectorBits != 512) {
    llvm::errs() << "kiln-cpu-compile: --schedule-vector-bits must be 256 or 512, got "
                 << scheduleVectorBits << "\n";
    return 1;
  }
  options.scheduleVectorBits = scheduleVectorBits;
  options.jobs = jobs;
  options.prefetchPanels = prefetchPanels;
  std::vector<kiln::cpu::DispatchInfo> infos;

  auto output = openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << "kiln-cpu-compile: " << error << "\n";
    return 1;
  }
  auto finish = [&](int rc) {
    if (rc == 0)
      output->keep();
    if (timing)
      llvm::errs() << "kiln-cpu-compile: "
                   << std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                          .count()
                   << " s\n";
    return rc;
  };
  auto stop = [&](Emit stage) {
    if (emit != stage)
      return false;
    module->print(output->os());
    return true;
  };

  if (failed(kiln::cpu::prepareDispatches(*module)))
    return 1;
  if (stop(Emit::Prepared))
    return finish(0);
  if (failed(kiln::cpu::scheduleDispatches(*module, options)))
    return 1;
  if (stop(Emit::Scheduled))
    return finish(0);
  if (failed(kiln::cpu::bufferizeDispatches(*module)))
    return 1;
  if (options.prefetchPanels && failed(kiln::cpu::prefetchWeightPanels(*module)))
    return 1;
  if (stop(Emit::Bufferized))
    return finish(0);
  if (failed(kiln::cpu::distributeWorkgroups(*module, infos)))
    return 1;
  if (printInfo)
    for (const auto &info : infos)
      llvm::errs() << "dispatch " << info.name << ": buffers " << info.bufferShapes.size()
                   << ", workgroups " << info.workgroupCount[0] << "x" << info.workgroupCount[1]
                   << "x" << info.workgroupCount[2] << "\n";
  if (stop(Emit::Distributed))
    return finish(0);
  if (failed(kiln::cpu::lowerToLLVMDialect(*module)))
    return 1;
  if (stop(Emit::LLVMDialect))
    return finish(0);
  std::string blob, ir;
  if (failed(kiln::cpu::emitSharedObject(*module, infos, options, blob,
                                         emit == Emit::LLVMIR ? &ir : nullptr)))
    return 1;
  if (emit == Emit::LLVMIR)
    output->os() << ir;
  else
    output->os() << blob;
  return finish(0);
}
