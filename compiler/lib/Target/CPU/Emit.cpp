//===- Emit.cpp - LLVM dialect -> native shared object (the CPU code blob) -===//
//
// The LLVM-dialect module is translated to LLVM IR. Each dispatch function
// `@d(ptr %buf0, ..., ptr %bufN, [i64 %scalar0, ...,] i64 %wg_begin, i64 %wg_end)` gets an ABI entry
// `kiln_cpu_dispatch_<d>(void *const *buffers, const int64_t *scalars, u32 begin, u32 end)` and
// the module gets the descriptor table returned by `kiln_cpu_executable_v1` (the layout of
// runtime/include/kiln/rt/cpu/ExecutableABI.h). Only that symbol is exported; everything else is
// internal, so -O3 inlines each dispatch into its entry. Object code is emitted in memory for
// the host CPU and linked into a shared object by ld.lld (a compile-time dependency only).
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace kiln::cpu {
namespace {

constexpr uint32_t kMagic = 0x5550434Bu; // "KCPU", ExecutableABI.h
constexpr uint32_t kVersion = 1;
constexpr const char *kQuerySymbol = "kiln_cpu_executable_v1";

std::unique_ptr<llvm::TargetMachine> createTargetMachine(const CPUTargetOptions &options,
                                                         std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getProcessTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpu = options.cpu;
  std::string features = options.features;
  if (cpu == "host") {
    cpu = llvm::sys::getHostCPUName().str();
    std::string host;
    for (const auto &f : llvm::sys::getHostCPUFeatures())
      host += (host.empty() ? "" : ",") + std::string(f.second ? "+" : "-") + f.first().str();
    features = features.empty() ? host : host + "," + features;
  }
  llvm::TargetOptions targetOptions;
  llvm::CodeGenOptLevel level = options.optLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
                                : options.optLevel == 2 ? llvm::CodeGenOptLevel::Default
                                : options.optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                                        : llvm::CodeGenOptLevel::None;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpu, features, targetOptions, llvm::Reloc::PIC_, std::nullopt, level));
  if (!tm)
    error = "cannot create a target machine for " + triple + " / " + cpu;
  return tm;
}

/// Adds the ABI entry of one dispatch and returns it.
llvm::Function *addEntry(llvm::Module &m, llvm::Function *inner, const DispatchInfo &info) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  llvm::Type *i32 = llvm::Type::getInt32Ty(ctx);
  llvm::Type *i64 = llvm::Type::getInt64Ty(ctx);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr, i32, i32}, false);
  auto *entry = llvm::Function::Create(type, llvm::GlobalValue::InternalLinkage,
                                       "kiln_cpu_dispatch_" + info.name, m);
  entry->addParamAttr(0, llvm::Attribute::NoAlias);
  entry->addParamAttr(0, llvm::Attribute::ReadOnly);
  entry->addParamAttr(1, llvm::Attribute::NoAlias);
  entry->addParamAttr(1, llvm::Attribute::ReadOnly);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", entry));
  llvm::SmallVector<llvm::Value *> args;
  for (size_t i = 0; i < info.bufferShapes.size(); ++i) {
    llvm::Value *slot = b.CreateConstInBoundsGEP1_64(ptr, entry->getArg(0), i);
    auto *load = b.CreateAlignedLoad(ptr, slot, llvm::Align(8));
    args.push_back(load);
  }
  // Dynamic sizes: the dispatch's scalars, after its buffers.
  for (uint32_t i = 0; i < info.numScalars; ++i) {
    llvm::Value *slot = b.CreateConstInBoundsGEP1_64(i64, entry->getArg(1), i);
    args.push_back(b.CreateAlignedLoad(i64, slot, llvm::Align(8)));
  }
  args.push_back(b.CreateZExt(entry->getArg(2), i64));
  args.push_back(b.CreateZExt(entry->getArg(3), i64));
  b.CreateCall(inner, args);
  b.CreateRetVoid();
  // Buffers of one dispatch do not alias (inputs are read-only, outputs distinct). No alignment
  // beyond the element's is assumed: bindings may be sub-ranges of memory-mapped weights.
  for (size_t i = 0; i < info.bufferShapes.size(); ++i)
    inner->addParamAttr(i, llvm::Attribute::NoAlias);
  inner->setLinkage(llvm::GlobalValue::InternalLinkage);
  return entry;
}

/// Adds the descriptor table and the exported query function.
void addDescriptorTable(llvm::Module &m, llvm::ArrayRef<DispatchInfo> infos,
                        llvm::ArrayRef<llvm::Function *> entries) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  llvm::Type *i32 = llvm::Type::getInt32Ty(ctx);
  auto *wgType = llvm::ArrayType::get(i32, 3);
  auto *descType = llvm::StructType::get(ctx, {ptr, ptr, ptr, i32, i32, wgType, i32});
  auto *exeType = llvm::StructType::get(ctx, {i32, i32, i32, i32, ptr});
  llvm::SmallVector<llvm::Constant *> descs;
  for (auto [info, entry] : llvm::zip(infos, entries)) {
    llvm::Constant *name = llvm::ConstantDataArray::getString(ctx, info.name);
    auto *nameVar = new llvm::GlobalVariable(m, name->getType(), true,
                                             llvm::GlobalValue::PrivateLinkage, name,
                                             "kiln.name." + info.name);
    llvm::Constant *wg = llvm::ConstantArray::get(
        wgType, {llvm::ConstantInt::get(i32, info.workgroupCount[0]),
                 llvm::ConstantInt::get(i32, info.workgroupCount[1]),
                 llvm::ConstantInt::get(i32, info.workgroupCount[2])});
    llvm::SmallVector<uint64_t> bytes;
    for (auto [shape, elementBytes] : llvm::zip(info.bufferShapes, info.bufferElementBytes)) {
      uint64_t n = elementBytes;
      for (int64_t d : shape)
        n *= static_cast<uint64_t>(d);
      bytes.push_back(n);
    }
    llvm::Constant *sizes = llvm::ConstantDataArray::get(ctx, bytes);
    auto *sizesVar = new llvm::GlobalVariable(m, sizes->getType(), true,
                                              llvm::GlobalValue::PrivateLinkage, sizes,
                                              "kiln.sizes." + info.name);
    descs.push_back(llvm::ConstantStruct::get(
        descType, {nameVar, entry, sizesVar, llvm::ConstantInt::get(i32, info.bufferShapes.size()),
                   llvm::ConstantInt::get(i32, info.numScalars), wg,
                   llvm::ConstantInt::get(i32, 0)}));
  }
  auto *arrayType = llvm::ArrayType::get(descType, descs.size());
  auto *table = new llvm::GlobalVariable(m, arrayType, true, llvm::GlobalValue::PrivateLinkage,
                                         llvm::ConstantArray::get(arrayType, descs),
                                         "kiln.dispatches");
  auto *exe = new llvm::GlobalVariable(
      m, exeType, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantStruct::get(exeType, {llvm::ConstantInt::get(i32, kMagic),
                                          llvm::ConstantInt::get(i32, kVersion),
                                          llvm::ConstantInt::get(i32, descs.size()),
                                          llvm::ConstantInt::get(i32, 0), table}),
      "kiln.executable");
  auto *query = llvm::Function::Create(llvm::FunctionType::get(ptr, false),
                                       llvm::GlobalValue::ExternalLinkage, kQuerySymbol, m);
  query->setVisibility(llvm::GlobalValue::DefaultVisibility);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", query));
  b.CreateRet(exe);
}

/// Links `object` into a shared object with ld.lld; returns the shared object's bytes.
LogicalResult linkSharedObject(StringRef object, const CPUTargetOptions &options,
                               std::string &blob, std::string &error) {
  llvm::SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("kiln-cpu", dir)) {
    error = "cannot create a temporary directory: " + ec.message();
    return failure();
  }
  llvm::SmallString<128> objPath(dir), soPath(dir);
  llvm::sys::path::append(objPath, "dispatches.o");
  llvm::sys::path::append(soPath, "dispatches.so");
  auto cleanup = [&] {
    llvm::sys::fs::remove(objPath);
    llvm::sys::fs::remove(soPath);
    llvm::sys::fs::remove(dir);
  };
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objPath, ec);
    if (ec) {
      error = "cannot write " + objPath.str().str() + ": " + ec.message();
      cleanup();
      return failure();
    }
    os << object;
  }
  std::vector<std::string> libraries;
  llvm::SmallVector<llvm::StringRef> argv = {options.linker, "-shared",     "--no-undefined",
                                             "-O2",          "--gc-sections", "-z",
                                             "now",          "-o",          soPath,
                                             objPath};
  // Transcendental functions without a polynomial approximation call libm; heap temporaries
  // of dynamically sized tiles call malloc / free, and LLVM emits memset / memcpy.
  for (const char *lib : {"libm.so.6", "libc.so.6"})
    for (const char *dir : {"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/"})
      if (llvm::sys::fs::exists(std::string(dir) + lib)) {
        libraries.push_back(std::string(dir) + lib);
        break;
      }
  for (const std::string &lib : libraries)
    argv.push_back(lib);
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(options.linker, argv, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    error = "linking the CPU code with " + options.linker + " failed" +
            (message.empty() ? "" : ": " + message);
    cleanup();
    return failure();
  }
  auto buffer = llvm::MemoryBuffer::getFile(soPath);
  if (!buffer) {
    error = "cannot read the linked shared object: " + buffer.getError().message();
    cleanup();
    return failure();
  }
  blob = (*buffer)->getBuffer().str();
  cleanup();
  return success();
}

} // namespace

LogicalResult emitSharedObject(ModuleOp module, llvm::ArrayRef<DispatchInfo> infos,
                               const CPUTargetOptions &options, std::string &blob,
                               std::string *llvmIR) {
  std::string error;
  std::unique_ptr<llvm::TargetMachine> tm = createTargetMachine(options, error);
  if (!tm)
    return emitError(module.getLoc()) << "CPU target: " << error;

  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> m = translateModuleToLLVMIR(module, ctx, "kiln_cpu");
  if (!m)
    return emitError(module.getLoc(), "CPU target: translation to LLVM IR failed");
  m->setTargetTriple(tm->getTargetTriple().str());
  m->setDataLayout(tm->createDataLayout());

  llvm::SmallVector<llvm::Function *> entries;
  for (const DispatchInfo &info : infos) {
    llvm::Function *inner = m->getFunction(info.name);
    if (!inner)
      return emitError(module.getLoc()) << "CPU target: dispatch '" << info.name << "' was lost";
    entries.push_back(addEntry(*m, inner, info));
  }
  addDescriptorTable(*m, infos, entries);
  for (llvm::Function &f : *m) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", tm->getTargetCPU());
    f.addFnAttr("target-features", tm->getTargetFeatureString());
    // The schedules pick vector shapes for the widest registers; without these LLVM splits
    // 512-bit vectors in two on CPUs whose tuning prefers 256-bit code.
    if (tm->getTargetFeatureString().contains("+avx512f")) {
      f.addFnAttr("prefer-vector-width", "512");
      f.addFnAttr("min-legal-vector-width", "512");
    }
  }
  if (llvm::verifyModule(*m, &llvm::errs()))
    return emitError(module.getLoc(), "CPU target: generated LLVM IR does not verify");

  // The -O3 pipeline (llc alone would skip the IR optimizer).
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PipelineTuningOptions tuning;
    tuning.LoopUnrolling = true;
    tuning.LoopVectorization = true;
    tuning.SLPVectorization = true;
    llvm::PassBuilder pb(tm.get(), tuning);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::OptimizationLevel level = options.optLevel >= 3   ? llvm::OptimizationLevel::O3
                                    : options.optLevel == 2 ? llvm::OptimizationLevel::O2
                                    : options.optLevel == 1 ? llvm::OptimizationLevel::O1
                                                            : llvm::OptimizationLevel::O0;
    llvm::ModulePassManager mpm = level == llvm::OptimizationLevel::O0
                                      ? pb.buildO0DefaultPipeline(level)
                                      : pb.buildPerModuleDefaultPipeline(level);
    mpm.run(*m, mam);
  }
  if (llvmIR) {
    llvm::raw_string_ostream os(*llvmIR);
    m->print(os, nullptr);
  }

  llvm::SmallString<0> object;
  {
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager codegen;
    if (tm->addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::ObjectFile))
      return emitError(module.getLoc(), "CPU target: the target cannot emit object files");
    codegen.run(*m);
  }
  if (failed(linkSharedObject(object, options, blob, error)))
    return emitError(module.getLoc()) << "CPU target: " << error;
  return success();
}

} // namespace kiln::cpu
