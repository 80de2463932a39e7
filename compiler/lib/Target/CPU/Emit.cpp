//===- Emit.cpp - LLVM dialect -> native shared object (the CPU code blob) -===//
//
// Each dispatch function `@d(ptr %buf0, ..., ptr %bufN, [i64 %scalar0, ...,] i64 %wg_begin,
// i64 %wg_end)` is compiled on its own: the functions and globals it reaches are copied into a
// module of their own, translated to LLVM IR in an LLVMContext of its own, given the ABI entry
// `kiln_cpu_dispatch_<d>(void *const *buffers, const int64_t *scalars, u32 begin, u32 end)`
// (hidden: only the descriptor table refers to it; everything else is internal, so -O3 inlines
// the dispatch into its entry), optimized and turned into object code. Dispatches are
// independent, so this runs on `CPUTargetOptions::jobs` threads. A last module holds the
// descriptor table returned by `kiln_cpu_executable_v1` (the layout of
// runtime/include/kiln/rt/cpu/ExecutableABI.h) and the runtime's services `kiln_cpu_host_v2`,
// the only exported symbols, and the (hidden) allocation functions the dispatches' heap
// temporaries call: the runtime's pool when it is there, else malloc. ld.lld (a
// compile-time dependency only) links the objects, always in dispatch order, into a shared
// object: its bytes do not depend on the number of threads.
//
//===----------------------------------------------------------------------===//
#include "kiln/Target/CPU/CPUTarget.h"
#include "kiln/rt/cpu/ExecutableABI.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassTimingInfo.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/StandardInstrumentations.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

#include <mutex>

using namespace mlir;

namespace kiln::cpu {
namespace {

constexpr uint32_t kMagic = 0x5550434Bu; // "KCPU", ExecutableABI.h
constexpr uint32_t kVersion = 1;
constexpr const char *kQuerySymbol = "kiln_cpu_executable_v1";
/// The runtime's services to the code (`kiln_cpu_host`): exported, filled in by the runtime
/// after loading; dispatches that use it declare it.
constexpr const char *kHostSymbol = KILN_CPU_HOST_SYMBOL;
/// What memref.alloc / memref.dealloc call (finalize-memref-to-llvm's generic functions).
constexpr const char *kAllocSymbol = "_mlir_memref_to_llvm_alloc";
constexpr const char *kFreeSymbol = "_mlir_memref_to_llvm_free";

/// The target the dispatches are compiled for, resolved once ("host" -> the host's name and
/// features) so that every thread builds the same TargetMachine.
struct TargetSpec {
  const llvm::Target *target = nullptr;
  std::string triple, cpu, features;
  /// The CPU has AVX-512F (from its own feature set, not the compiling machine's).
  bool avx512 = false;
};

llvm::CodeGenOptLevel codeGenLevel(unsigned optLevel) {
  return optLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
         : optLevel == 2 ? llvm::CodeGenOptLevel::Default
         : optLevel == 1 ? llvm::CodeGenOptLevel::Less
                         : llvm::CodeGenOptLevel::None;
}

/// One TargetMachine per thread: code generation mutates it.
std::unique_ptr<llvm::TargetMachine> createTargetMachine(const TargetSpec &spec,
                                                         unsigned optLevel) {
  return std::unique_ptr<llvm::TargetMachine>(spec.target->createTargetMachine(
      spec.triple, spec.cpu, spec.features, llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, codeGenLevel(optLevel)));
}

LogicalResult resolveTarget(const CPUTargetOptions &options, TargetSpec &spec,
                            std::string &error) {
  ResolvedCPU cpu;
  if (failed(resolveCPUTarget(options, cpu, error)))
    return failure();
  llvm::InitializeNativeTargetAsmPrinter();
  // The AVX2 transpose of the matmul schedules' weight panels holds inline assembly
  // (`vblendps`), which the object emitter parses.
  llvm::InitializeNativeTargetAsmParser();
  spec.triple = cpu.triple;
  spec.target = llvm::TargetRegistry::lookupTarget(spec.triple, error);
  if (!spec.target)
    return failure();
  spec.cpu = cpu.cpu;
  spec.features = cpu.features;
  spec.avx512 = hasCPUFeature(cpu, "avx512f");
  if (!createTargetMachine(spec, options.optLevel)) {
    error = "cannot create a target machine for " + spec.triple + " / " + spec.cpu;
    return failure();
  }
  return success();
}

/// The ABI entry's type: (void *const *buffers, const int64_t *scalars, u32 begin, u32 end).
llvm::FunctionType *entryType(llvm::LLVMContext &ctx) {
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  llvm::Type *i32 = llvm::Type::getInt32Ty(ctx);
  return llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr, i32, i32}, false);
}

std::string entrySymbol(const DispatchInfo &info) { return "kiln_cpu_dispatch_" + info.name; }

/// Adds the ABI entry of one dispatch and returns it.
llvm::Function *addEntry(llvm::Module &m, llvm::Function *inner, const DispatchInfo &info) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  llvm::Type *i64 = llvm::Type::getInt64Ty(ctx);
  llvm::FunctionType *type = entryType(ctx);
  // Hidden, not internal: the descriptor table in another object refers to it.
  auto *entry = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                                       entrySymbol(info), m);
  entry->setVisibility(llvm::GlobalValue::HiddenVisibility);
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

/// `ptr @_mlir_memref_to_llvm_alloc(i64)` and `void @_mlir_memref_to_llvm_free(ptr)`, what the
/// dispatches' heap temporaries call: the host's `alloc` / `free` (the runtime's pool of
/// blocks) when the runtime filled them in, else malloc / free. Hidden: the dispatches'
/// objects refer to them, nothing outside.
void addAllocationFunctions(llvm::Module &m, llvm::StructType *hostType,
                            llvm::GlobalVariable *host) {
  llvm::LLVMContext &ctx = m.getContext();
  auto *ptr = llvm::PointerType::get(ctx, 0);
  auto *i64 = llvm::Type::getInt64Ty(ctx);
  auto *voidType = llvm::Type::getVoidTy(ctx);
  // (context, argument): host field `field` when set, else `fallback(argument)`.
  auto define = [&](const char *name, llvm::Type *result, llvm::Type *argument, unsigned field,
                    const char *fallbackName) {
    auto *fnType = llvm::FunctionType::get(result, {argument}, false);
    auto *fn = llvm::Function::Create(fnType, llvm::GlobalValue::ExternalLinkage, name, m);
    fn->setVisibility(llvm::GlobalValue::HiddenVisibility);
    llvm::FunctionCallee fallback = m.getOrInsertFunction(fallbackName, fnType);
    auto *entry = llvm::BasicBlock::Create(ctx, "entry", fn);
    auto *viaHost = llvm::BasicBlock::Create(ctx, "host", fn);
    auto *alone = llvm::BasicBlock::Create(ctx, "alone", fn);
    llvm::IRBuilder<> b(entry);
    llvm::Value *service = b.CreateLoad(ptr, b.CreateStructGEP(hostType, host, field));
    b.CreateCondBr(b.CreateIsNull(service), alone, viaHost);
    b.SetInsertPoint(viaHost);
    llvm::Value *context = b.CreateLoad(ptr, b.CreateStructGEP(hostType, host, 1));
    llvm::Value *viaResult = b.CreateCall(
        llvm::FunctionType::get(result, {ptr, argument}, false), service,
        {context, fn->getArg(0)});
    if (result->isVoidTy())
      b.CreateRetVoid();
    else
      b.CreateRet(viaResult);
    b.SetInsertPoint(alone);
    llvm::Value *aloneResult = b.CreateCall(fallback, {fn->getArg(0)});
    if (result->isVoidTy())
      b.CreateRetVoid();
    else
      b.CreateRet(aloneResult);
  };
  define(kAllocSymbol, ptr, i64, /*field=*/2, "malloc");
  define(kFreeSymbol, voidType, ptr, /*field=*/3, "free");
}

/// Adds the descriptor table and the exported query function, referring to the entries
/// (defined in the dispatches' objects).
void addDescriptorTable(llvm::Module &m, llvm::ArrayRef<DispatchInfo> infos) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::SmallVector<llvm::Function *> entries;
  for (const DispatchInfo &info : infos) {
    auto *decl = llvm::Function::Create(entryType(ctx), llvm::GlobalValue::ExternalLinkage,
                                        entrySymbol(info), m);
    decl->setVisibility(llvm::GlobalValue::HiddenVisibility);
    entries.push_back(decl);
  }
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
  // Zero until the runtime fills it: code that finds no host runs the workgroups itself.
  auto *hostType = llvm::StructType::get(ctx, {ptr, ptr, ptr, ptr});
  auto *host = new llvm::GlobalVariable(m, hostType, /*isConstant=*/false,
                                        llvm::GlobalValue::ExternalLinkage,
                                        llvm::ConstantAggregateZero::get(hostType), kHostSymbol);
  host->setVisibility(llvm::GlobalValue::DefaultVisibility);
  addAllocationFunctions(m, hostType, host);
  auto *query = llvm::Function::Create(llvm::FunctionType::get(ptr, false),
                                       llvm::GlobalValue::ExternalLinkage, kQuerySymbol, m);
  query->setVisibility(llvm::GlobalValue::DefaultVisibility);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", query));
  b.CreateRet(exe);
}

/// Links `objects` (in this order) into a shared object with ld.lld; returns its bytes.
LogicalResult linkSharedObject(llvm::ArrayRef<llvm::SmallString<0>> objects,
                               const CPUTargetOptions &options, std::string &blob,
                               std::string &error) {
  llvm::SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("kiln-cpu", dir)) {
    error = "cannot create a temporary directory: " + ec.message();
    return failure();
  }
  llvm::SmallString<128> soPath(dir);
  llvm::sys::path::append(soPath, "dispatches.so");
  std::vector<std::string> objPaths;
  auto cleanup = [&] {
    for (const std::string &p : objPaths)
      llvm::sys::fs::remove(p);
    llvm::sys::fs::remove(soPath);
    llvm::sys::fs::remove(dir);
  };
  for (auto [i, object] : llvm::enumerate(objects)) {
    llvm::SmallString<128> objPath(dir);
    llvm::sys::path::append(objPath, "d" + std::to_string(i) + ".o");
    objPaths.push_back(objPath.str().str());
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
                                             "now",          "-o",          soPath};
  for (const std::string &p : objPaths)
    argv.push_back(p);
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

/// The module compiled for one dispatch: `name` and every function and global it reaches
/// (through calls and addresses, transitively), cloned in `module`'s order. Reached
/// definitions other than the dispatch become internal: each dispatch's object has its own
/// copy. Runs on one thread at a time (it creates ops in the shared MLIRContext).
FailureOr<OwningOpRef<ModuleOp>> extractDispatch(ModuleOp module, SymbolTable &symbols,
                                                 StringRef name) {
  Operation *root = symbols.lookup(name);
  llvm::SetVector<Operation *> reached;
  reached.insert(root);
  for (size_t i = 0; i < reached.size(); ++i) {
    std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(reached[i]);
    if (!uses)
      return module.emitError() << "CPU target: unknown symbol uses in '" << name << "'";
    for (const SymbolTable::SymbolUse &use : *uses) {
      Operation *def = symbols.lookup(use.getSymbolRef().getRootReference());
      if (!def)
        return module.emitError() << "CPU target: '" << name << "' refers to the undefined '"
                                  << use.getSymbolRef() << "'";
      reached.insert(def);
    }
  }
  OpBuilder b(module.getContext());
  OwningOpRef<ModuleOp> part = b.create<ModuleOp>(module.getLoc());
  (*part)->setAttrs(module->getAttrDictionary());
  b.setInsertionPointToEnd(part->getBody());
  for (Operation &op : *module.getBody()) {
    if (!reached.contains(&op))
      continue;
    Operation *copy = b.clone(op);
    if (&op == root)
      continue;
    if (auto f = dyn_cast<LLVM::LLVMFuncOp>(copy)) {
      if (!f.isExternal())
        f.setLinkage(LLVM::Linkage::Internal);
    } else if (auto g = dyn_cast<LLVM::GlobalOp>(copy)) {
      if (g.getInitializerRegion().empty() && !g.getValueAttr())
        continue; // a declaration (the host services, defined with the descriptor table)
      if (!g.getConstant())
        return module.emitError() << "CPU target: dispatch '" << name
                                  << "' uses the mutable global '" << g.getSymName() << "'";
      g.setLinkage(LLVM::Linkage::Private);
    }
  }
  return part;
}

/// Sets the attributes every function of a module compiled for `spec` carries.
void setTargetAttributes(llvm::Module &m, const TargetSpec &spec) {
  for (llvm::Function &f : m) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", spec.cpu);
    f.addFnAttr("target-features", spec.features);
    // The schedules pick vector shapes for the widest registers; without these LLVM splits
    // 512-bit vectors in two on CPUs whose tuning prefers 256-bit code.
    if (spec.avx512) {
      f.addFnAttr("prefer-vector-width", "512");
      f.addFnAttr("min-legal-vector-width", "512");
    }
  }
}

/// Runs the optimization pipeline of `optLevel` on `m` (llc alone would skip the IR
/// optimizer). With LLVM's -time-passes, the time of each pass is reported.
void optimize(llvm::Module &m, llvm::TargetMachine &tm, unsigned optLevel) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassInstrumentationCallbacks pic;
  std::optional<llvm::StandardInstrumentations> instrumentations;
  if (llvm::TimePassesIsEnabled) {
    instrumentations.emplace(m.getContext(), /*DebugLogging=*/false);
    instrumentations->registerCallbacks(pic, &mam);
  }
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder pb(&tm, tuning, std::nullopt, &pic);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = optLevel >= 3   ? llvm::OptimizationLevel::O3
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                  : optLevel == 1 ? llvm::OptimizationLevel::O1
                                                  : llvm::OptimizationLevel::O0;
  llvm::ModulePassManager mpm = level == llvm::OptimizationLevel::O0
                                    ? pb.buildO0DefaultPipeline(level)
                                    : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(m, mam);
}

/// Verifies, optimizes and emits `m` as object code into `object`.
LogicalResult compileModule(llvm::Module &m, const TargetSpec &spec, unsigned optLevel,
                            llvm::SmallString<0> &object, std::string *llvmIR,
                            std::string &error) {
  std::unique_ptr<llvm::TargetMachine> tm = createTargetMachine(spec, optLevel);
  if (!tm) {
    error = "cannot create a target machine for " + spec.triple + " / " + spec.cpu;
    return failure();
  }
  m.setTargetTriple(tm->getTargetTriple().str());
  m.setDataLayout(tm->createDataLayout());
  setTargetAttributes(m, spec);
  {
    llvm::raw_string_ostream os(error);
    if (llvm::verifyModule(m, &os)) {
      error = "generated LLVM IR does not verify: " + error;
      return failure();
    }
  }
  optimize(m, *tm, optLevel);
  if (llvmIR) {
    llvm::raw_string_ostream os(*llvmIR);
    m.print(os, nullptr);
  }
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager codegen;
  if (tm->addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit object files";
    return failure();
  }
  codegen.run(m);
  return success();
}

} // namespace

unsigned resolveJobs(unsigned jobs) {
  return jobs ? jobs : llvm::hardware_concurrency().compute_thread_count();
}

LogicalResult emitSharedObject(ModuleOp module, llvm::ArrayRef<DispatchInfo> infos,
                               const CPUTargetOptions &options, std::string &blob,
                               std::string *llvmIR) {
  std::string error;
  TargetSpec spec;
  if (failed(resolveTarget(options, spec, error)))
    return emitError(module.getLoc()) << "CPU target: " << error;

  SymbolTable symbols(module);
  for (const DispatchInfo &info : infos)
    if (!isa_and_nonnull<LLVM::LLVMFuncOp>(symbols.lookup(info.name)))
      return emitError(module.getLoc()) << "CPU target: dispatch '" << info.name << "' was lost";

  // One task per dispatch; the descriptor table is object `infos.size()`. Extraction and
  // translation touch the MLIRContext, so they take turns; optimization and code generation,
  // where the time goes, run in parallel, each in its own LLVMContext.
  size_t n = infos.size();
  std::vector<llvm::SmallString<0>> objects(n + 1);
  std::vector<std::string> errors(n + 1), irs(llvmIR ? n + 1 : 0);
  std::mutex mlirMutex, progressMutex;
  unsigned done = 0;
  auto compileDispatch = [&](size_t i) {
    llvm::LLVMContext ctx;
    std::unique_ptr<llvm::Module> m;
    {
      std::lock_guard<std::mutex> lock(mlirMutex);
      FailureOr<OwningOpRef<ModuleOp>> part = extractDispatch(module, symbols, infos[i].name);
      if (failed(part)) {
        errors[i] = "extraction failed";
        return;
      }
      m = translateModuleToLLVMIR(**part, ctx, "kiln_cpu_" + infos[i].name);
    }
    if (!m) {
      errors[i] = "translation of '" + infos[i].name + "' to LLVM IR failed";
      return;
    }
    addEntry(*m, m->getFunction(infos[i].name), infos[i]);
    const std::array<uint32_t, 3> &wg = infos[i].workgroupCount;
    unsigned level = std::min(options.optLevel, infos[i].maxOptLevel);
    if (uint64_t(wg[0]) * wg[1] * wg[2] == 1)
      level = std::min(level, options.singleWorkgroupOptLevel);
    if (failed(compileModule(*m, spec, level, objects[i],
                             llvmIR ? &irs[i] : nullptr, errors[i])))
      return;
    if (options.onDispatchCompiled) {
      std::lock_guard<std::mutex> lock(progressMutex);
      options.onDispatchCompiled(++done, n, infos[i].name);
    }
  };
  // Largest dispatches first, so that one big dispatch does not finish alone at the end.
  std::vector<size_t> order(n);
  std::vector<size_t> sizes(n, 0);
  for (size_t i = 0; i < n; ++i) {
    order[i] = i;
    symbols.lookup(infos[i].name)->walk([&](Operation *) { ++sizes[i]; });
  }
  llvm::stable_sort(order, [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
  unsigned jobs = std::min<size_t>(resolveJobs(options.jobs), std::max<size_t>(n, 1));
  if (options.onDispatchCompiled)
    options.onDispatchCompiled(0, n, "");
  if (jobs <= 1) {
    for (size_t i : order)
      compileDispatch(i);
  } else {
    llvm::DefaultThreadPool pool(llvm::hardware_concurrency(jobs));
    for (size_t i : order)
      pool.async(compileDispatch, i);
    pool.wait();
  }
  for (auto [info, err] : llvm::zip(infos, errors))
    if (!err.empty())
      return emitError(module.getLoc()) << "CPU target: dispatch '" << info.name << "': " << err;

  {
    llvm::LLVMContext ctx;
    llvm::Module table("kiln_cpu_table", ctx);
    addDescriptorTable(table, infos);
    if (failed(compileModule(table, spec, options.optLevel, objects[n],
                             llvmIR ? &irs[n] : nullptr, error)))
      return emitError(module.getLoc()) << "CPU target: " << error;
  }
  if (llvmIR)
    for (const std::string &ir : irs)
      *llvmIR += ir;
  if (failed(linkSharedObject(objects, options, blob, error)))
    return emitError(module.getLoc()) << "CPU target: " << error;
  return success();
}

} // namespace kiln::cpu
