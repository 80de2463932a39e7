//===- kilnc.cpp - The Kiln compiler driver -------------------------------===//
//
// kilnc MODEL.kiln [--set key=value]... [--config config.json]
//       [--emit=ast|params|mlir|linalg|llvm|artifact] [--target=cpu|none] [-o FILE]
//       [--cpu=host|NAME] [--cpu-features=+f1,-f2] [--specialize name=size,...] [--jobs N]
//       [-O0..3] [--progress | --quiet]
//
// Reads a model file, applies config overrides, runs the front-end and prints the requested
// stage, or writes the .kc artifact (the default when -o names a .kc file). Diagnostics go to
// stderr as `file:line:col: error: ...`; any error exits with 1.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact/Export.h"
#include "kiln/Frontend/Frontend.h"
#include "kiln/MLIRGen/MLIRGen.h"
#include "kiln/Pipeline/Pipeline.h"

#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>

namespace cl = llvm::cl;
using namespace kiln;

namespace {
enum class Emit { AST, Params, MLIR, Linalg, LLVM, Artifact };

cl::OptionCategory KilncCat("kilnc options");

cl::opt<std::string> InputFilename(cl::Positional, cl::desc("<model.kiln>"), cl::Required,
                                   cl::cat(KilncCat));
cl::opt<Emit> EmitAction(
    "emit",
    cl::desc("What to produce (default: artifact when -o names a .kc file, otherwise mlir)"),
    cl::init(Emit::MLIR),
    cl::values(clEnumValN(Emit::AST, "ast", "the syntax tree, with config values after overrides"),
               clEnumValN(Emit::Params, "params",
                          "the parameters: name, shape, init, checkpoint name and layout"),
               clEnumValN(Emit::MLIR, "mlir", "the model as kiln dialect MLIR"),
               clEnumValN(Emit::Linalg, "linalg",
                          "the model lowered to linalg / tensor / arith / math on tensors"),
               clEnumValN(Emit::LLVM, "llvm",
                          "the compiled entry points in the LLVM dialect, with their ABI "
                          "wrappers (docs/artifact.md)"),
               clEnumValN(Emit::Artifact, "artifact",
                          "the .kc artifact: manifest, parameter table and entry-point "
                          "signatures (needs -o FILE)")),
    cl::cat(KilncCat));
cl::opt<std::string> TargetName(
    "target",
    cl::desc("Code in the artifact: cpu (native code for --cpu, by default this machine) or "
             "none"),
    cl::init("cpu"), cl::cat(KilncCat));
cl::opt<std::string> CPUName(
    "cpu",
    cl::desc("CPU the native code is compiled for: host (default: this machine, every ISA "
             "extension it has) or an LLVM x86 CPU name (x86-64-v3, x86-64-v4, znver3, znver4, "
             "sapphirerapids, ...) with that CPU's extensions, whatever this machine has. The "
             "artifact records the extensions the code needs; kiln refuses to run it on a CPU "
             "without them. Only with -o MODEL.kc --target=cpu, or --emit=llvm"),
    cl::value_desc("name"), cl::init("host"), cl::cat(KilncCat));
cl::opt<std::string> CPUFeatures(
    "cpu-features",
    cl::desc("LLVM target features added to (+) or removed from (-) those of --cpu, e.g. "
             "--cpu=x86-64-v4 --cpu-features=-avx512f: no AVX-512 at all, 256-bit schedules"),
    cl::value_desc("+f1,-f2,..."), cl::cat(KilncCat));
cl::opt<std::string> Specialize(
    "specialize",
    cl::desc("Compile forward for these sizes only, cut into per-op dispatches with tuned "
             "schedules: --specialize batch=1,seq=64 (every symbolic dimension of forward's "
             "inputs; the runtime then refuses other sizes). A decoder's prefill (chunks of "
             "seq tokens) and decode (one token) are cut for that batch too, where their "
             "attention has a static form (otherwise compiled whole, with a warning)"),
    cl::value_desc("name=size,..."), cl::cat(KilncCat));
cl::opt<std::string> OutputFilename("o", cl::desc("Write the output to <file> (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"), cl::cat(KilncCat));
cl::opt<std::string> WeightDType(
    "weight-dtype", cl::value_desc("f32|bf16|int8"), cl::init("f32"),
    cl::desc("Storage type of the weight matrices (default f32). bf16: linear weights and "
             "embedding tables (a tied head's too) in bf16, half the bytes each decoded token "
             "reads, rounded to the nearest bf16 when loaded. int8: the matrices read only as "
             "linear weights in int8 with one f32 scale per output row (a quarter of the "
             "bytes), quantized symmetrically per row when loaded; embedding tables bf16. "
             "Every product and sum stays f32 (each weight is widened as it is read); norms, "
             "biases and position tables stay f32. Checkpoints of any float type load into "
             "either (docs/weights.md)"),
    cl::cat(KilncCat));
cl::list<std::string> SetValues(
    "set",
    cl::desc("Override a config value: --set n_layer=2 (repeatable; integers, numbers, "
             "true/false, otherwise a string). Unknown keys are errors"),
    cl::value_desc("key=value"), cl::cat(KilncCat));
cl::opt<std::string> ConfigFile(
    "config",
    cl::desc("Override config values from a Hugging Face config.json: keys are matched by name; "
             "unknown keys, nulls and nested objects of undeclared keys are ignored; a key of "
             "the wrong type is an error. --set wins over --config"),
    cl::value_desc("config.json"), cl::cat(KilncCat));

cl::opt<unsigned> Jobs(
    "jobs",
    cl::desc("Threads that optimize and generate the CPU code, one dispatch each at a time "
             "(default 0: one per hardware thread). The artifact is the same for any N"),
    cl::value_desc("N"), cl::init(0), cl::cat(KilncCat));
cl::opt<unsigned> OptLevel(
    "O",
    cl::desc("LLVM optimization level of the CPU code, 0-3 (default 3). Dispatches with one "
             "workgroup (untiled loops, whole entry points) use at most 2 (docs/cpu-backend.md "
             "\"Compile time\")"),
    cl::value_desc("level"), cl::Prefix, cl::init(kiln::cpu::CPUTargetOptions().optLevel),
    cl::cat(KilncCat));
cl::opt<bool> PrefetchPanels(
    "prefetch-panels",
    cl::desc("CPU: each matmul workgroup reads the next workgroup's weight panel ahead, while "
             "it computes (default on; off only to measure what it gains)"),
    cl::init(kiln::cpu::CPUTargetOptions().prefetchPanels), cl::cat(KilncCat));
cl::opt<bool> Progress(
    "progress",
    cl::desc("Print the compile's stages (parse, lower, each dispatch compiled k/n, link, "
             "write) with the elapsed time to stderr. On by default when writing an artifact "
             "with stderr on a terminal"),
    cl::cat(KilncCat));
cl::opt<bool> Quiet("quiet", cl::desc("Print no progress lines, only diagnostics"),
                    cl::cat(KilncCat));
cl::alias JobsShort("j", cl::desc("Alias for --jobs"), cl::aliasopt(Jobs), cl::cat(KilncCat));

/// Stage lines on stderr: `kilnc: [  12.3 s] <what>`. On a terminal the per-dispatch lines
/// overwrite each other; otherwise each is printed on its own line.
class ProgressPrinter {
public:
  explicit ProgressPrinter(bool enabled)
      : enabled(enabled), terminal(llvm::sys::Process::StandardErrIsDisplayed()),
        start(std::chrono::steady_clock::now()) {}

  bool isEnabled() const { return enabled; }

  void stage(const llvm::Twine &what) {
    if (!enabled)
      return;
    endTransient();
    prefix() << what << "\n";
  }

  void dispatchCompiled(unsigned done, unsigned total, llvm::StringRef name) {
    if (!enabled)
      return;
    if (terminal) {
      llvm::errs() << "\r\x1b[K";
      prefix() << "compiled " << done << "/" << total << " dispatches (" << name << ")";
      transient = true;
      if (done == total)
        endTransient();
    } else {
      prefix() << "compiled " << done << "/" << total << " dispatches (" << name << ")\n";
    }
  }

private:
  llvm::raw_ostream &prefix() {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return llvm::errs() << llvm::format("kilnc: [%7.1f s] ", s);
  }
  void endTransient() {
    if (transient)
      llvm::errs() << "\n";
    transient = false;
  }

  bool enabled, terminal;
  bool transient = false;
  std::chrono::steady_clock::time_point start;
};

/// Reads config.json into overrides. Returns false (after printing) on an unreadable file.
bool readConfigJson(const std::string &path, std::vector<fe::ConfigOverride> &out) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf) {
    llvm::errs() << path << ": error: cannot read config file: " << buf.getError().message()
                 << "\n";
    return false;
  }
  llvm::Expected<llvm::json::Value> v = llvm::json::parse((*buf)->getBuffer());
  if (!v) {
    llvm::errs() << path << ": error: invalid JSON: " << llvm::toString(v.takeError()) << "\n";
    return false;
  }
  const llvm::json::Object *obj = v->getAsObject();
  if (!obj) {
    llvm::errs() << path << ": error: a config file must hold a JSON object\n";
    return false;
  }
  for (const auto &kv : *obj) {
    fe::ConfigOverride o;
    o.Key = kv.first.str();
    o.Origin = path;
    const llvm::json::Value &j = kv.second;
    if (j.kind() == llvm::json::Value::Null) {
      o.IsNull = true;
    } else if (auto b = j.getAsBoolean()) {
      o.Value = fe::Scalar::ofBool(*b);
    } else if (auto i = j.getAsInteger()) {
      o.Value = fe::Scalar::ofInt(*i);
    } else if (auto d = j.getAsNumber()) {
      o.Value = fe::Scalar::ofFloat(*d);
    } else if (auto s = j.getAsString()) {
      o.Value = fe::Scalar::ofString(s->str());
    } else {
      o.IsCompound = true;
    }
    out.push_back(std::move(o));
  }
  return true;
}

/// Prints MLIR diagnostics as the front-end does: `file:line:col: error: message`.
mlir::LogicalResult printDiagnostic(mlir::Diagnostic &d) {
  auto print = [](mlir::Location loc, mlir::DiagnosticSeverity sev, const std::string &msg) {
    if (auto fl = loc->findInstanceOf<mlir::FileLineColLoc>())
      llvm::errs() << fl.getFilename().getValue() << ":" << fl.getLine() << ":" << fl.getColumn()
                   << ": ";
    else
      llvm::errs() << "kilnc: ";
    llvm::errs() << (sev == mlir::DiagnosticSeverity::Error     ? "error"
                     : sev == mlir::DiagnosticSeverity::Warning ? "warning"
                                                                : "note")
                 << ": " << msg << "\n";
  };
  print(d.getLocation(), d.getSeverity(), d.str());
  for (mlir::Diagnostic &note : d.getNotes())
    print(note.getLocation(), mlir::DiagnosticSeverity::Note, note.str());
  return mlir::success();
}

/// mlirGen, then the weights' storage type (--weight-dtype).
mlir::OwningOpRef<mlir::ModuleOp> generateModule(mlir::MLIRContext &ctx, const fe::Graph &g) {
  mlir::OwningOpRef<mlir::ModuleOp> m = mlirGen(ctx, g, InputFilename);
  if (!m || WeightDType == "f32")
    return m;
  mlir::PassManager pm(&ctx);
  kiln::KilnStoreWeightsOptions options;
  options.dtype = WeightDType;
  pm.addPass(kiln::createKilnStoreWeights(options));
  if (failed(pm.run(*m)))
    return nullptr;
  return m;
}

bool parseSets(std::vector<fe::ConfigOverride> &out) {
  bool ok = true;
  for (const std::string &s : SetValues) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      llvm::errs() << "kilnc: error: --set expects key=value, got '" << s << "'\n";
      ok = false;
      continue;
    }
    fe::ConfigOverride o;
    o.Key = s.substr(0, eq);
    o.Value = fe::parseSetValue(s.substr(eq + 1));
    o.Origin = "--set " + s;
    o.ErrorIfUnknown = true;
    out.push_back(std::move(o));
  }
  return ok;
}
/// Parses --specialize name=size,... into `sizes`.
bool parseSpecialize(llvm::StringMap<int64_t> &sizes) {
  llvm::SmallVector<llvm::StringRef> items;
  llvm::StringRef(Specialize).split(items, ',');
  for (llvm::StringRef item : items) {
    auto [name, value] = item.trim().split('=');
    int64_t size = 0;
    if (name.trim().empty() || value.trim().getAsInteger(10, size) || size <= 0) {
      llvm::errs() << "kilnc: error: --specialize: '" << item
                   << "' is not name=size with a positive size (e.g. batch=1,seq=64)\n";
      return false;
    }
    if (!sizes.try_emplace(name.trim(), size).second) {
      llvm::errs() << "kilnc: error: --specialize: '" << name.trim() << "' is given twice\n";
      return false;
    }
  }
  return true;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  // --mlir-print-debuginfo and friends apply to --emit=mlir.
  mlir::registerAsmPrinterCLOptions();
  auto &registered = cl::getRegisteredOptions();
  for (const char *name : {"mlir-print-debuginfo", "mlir-print-local-scope"})
    if (registered.count(name))
      registered[name]->addCategory(KilncCat);
  cl::HideUnrelatedOptions(KilncCat);
  cl::ParseCommandLineOptions(
      argc, argv,
      "kilnc: the Kiln model compiler\n\n"
      "Compiles a Kiln model file (see docs/language.md). Errors are printed as\n"
      "file:line:col: error: message, with the source line and a caret; the exit code is 1\n"
      "when any error was reported (warnings do not fail).\n");

  if (Progress && Quiet) {
    llvm::errs() << "kilnc: error: --progress and --quiet contradict each other\n";
    return 1;
  }
  // Before any work: LLVM would only warn about an unknown name and compile for another CPU.
  if (std::string error; failed(kiln::cpu::validateCPUOptions(CPUName, CPUFeatures, "--cpu",
                                                               "--cpu-features", error))) {
    llvm::errs() << "kilnc: error: " << error << "\n";
    return 1;
  }
  Emit emit = EmitAction;
  if (EmitAction.getNumOccurrences() == 0 && llvm::StringRef(OutputFilename).ends_with(".kc"))
    emit = Emit::Artifact;
  // Progress is about writing an artifact; the other stages take well under a second.
  ProgressPrinter progress(Progress || (!Quiet && emit == Emit::Artifact &&
                                        llvm::sys::Process::StandardErrIsDisplayed()));
  progress.stage("parse " + InputFilename.getValue());

  auto buf = llvm::MemoryBuffer::getFileOrSTDIN(InputFilename, /*IsText=*/true);
  if (!buf) {
    llvm::errs() << InputFilename << ": error: cannot read file: " << buf.getError().message()
                 << "\n";
    return 1;
  }
  if ((*buf)->getBufferSize() > (64u << 20)) {
    llvm::errs() << InputFilename << ": error: file is larger than 64 MiB\n";
    return 1;
  }

  std::vector<fe::ConfigOverride> overrides;
  if (!ConfigFile.empty() && !readConfigJson(ConfigFile, overrides))
    return 1;
  // --set comes last so that it wins over --config.
  if (!parseSets(overrides))
    return 1;
  // Later overrides of the same key win.
  for (size_t i = 0; i < overrides.size(); ++i)
    for (size_t j = i + 1; j < overrides.size(); ++j)
      if (overrides[i].Key == overrides[j].Key && !overrides[j].IsNull) {
        overrides[j].ErrorIfUnknown |= overrides[i].ErrorIfUnknown;
        overrides[i].IsNull = true;
        overrides[i].ErrorIfUnknown = false;
      }

  fe::SourceFile file(InputFilename, (*buf)->getBuffer().str());
  fe::DiagEngine diags(file);
  fe::FrontendResult r = fe::runFrontend(file, overrides, diags);
  llvm::errs() << diags.render();
  if (!r.Ok)
    return 1;

  if (WeightDType != "f32" && WeightDType != "bf16" && WeightDType != "int8") {
    llvm::errs() << "kilnc: error: --weight-dtype '" << WeightDType << "': f32, bf16 or int8\n";
    return 1;
  }
  bool cpuCode = emit == Emit::Artifact && TargetName == "cpu";
  if ((CPUName.getNumOccurrences() || CPUFeatures.getNumOccurrences()) && !cpuCode &&
      emit != Emit::LLVM) {
    llvm::errs() << "kilnc: error: --cpu and --cpu-features apply to the CPU code of an "
                    "artifact (-o MODEL.kc --target=cpu) or to --emit=llvm\n";
    return 1;
  }
  if (OptLevel > 3) {
    llvm::errs() << "kilnc: error: -O" << OptLevel << ": the level is 0, 1, 2 or 3\n";
    return 1;
  }
  // The CPU target as the flags say; --emit=llvm compiles its matmul chunks with it too.
  kiln::cpu::CPUTargetOptions options;
  options.cpu = CPUName;
  options.features = CPUFeatures;
  options.jobs = Jobs;
  options.optLevel = OptLevel;
  options.prefetchPanels = PrefetchPanels;
  if (!Specialize.empty() && !cpuCode) {
    llvm::errs() << "kilnc: error: --specialize applies to the CPU code of an artifact "
                    "(-o MODEL.kc --target=cpu)\n";
    return 1;
  }
  if (emit == Emit::Artifact) {
    if (OutputFilename == "-") {
      llvm::errs() << "kilnc: error: --emit=artifact writes a file: name it with -o MODEL.kc\n";
      return 1;
    }
    mlir::MLIRContext ctx;
    mlir::ScopedDiagnosticHandler diagHandler(&ctx, printDiagnostic);
    mlir::OwningOpRef<mlir::ModuleOp> m = generateModule(ctx, r.G);
    if (!m)
      return 1;
    auto finished = [&](bool ok) {
      progress.stage(ok ? "wrote " + OutputFilename.getValue() : std::string("failed"));
      return ok ? 0 : 1;
    };
    if (TargetName == "none") {
      progress.stage("write " + OutputFilename.getValue());
      return finished(succeeded(kiln::writeArtifact(*m, OutputFilename)));
    }
    if (TargetName != "cpu") {
      llvm::errs() << "kilnc: error: unknown --target '" << TargetName << "' (cpu or none)\n";
      return 1;
    }
    llvm::StringMap<int64_t> sizes;
    if (!Specialize.empty() && !parseSpecialize(sizes))
      return 1;
    mlir::DialectRegistry registry;
    kiln::cpu::registerCPUTargetDialects(registry);
    ctx.appendDialectRegistry(registry);
    options.onDispatchCompiled = [&](unsigned done, unsigned total, llvm::StringRef name) {
      if (done == 0)
        progress.stage(llvm::Twine("optimize and generate code: ") + llvm::Twine(total) +
                       " dispatches on " + llvm::Twine(kiln::cpu::resolveJobs(Jobs)) +
                       " thread(s)");
      else
        progress.dispatchCompiled(done, total, name);
      if (done == total)
        progress.stage("link the CPU code and write " + OutputFilename.getValue());
    };
    progress.stage("lower: kiln -> linalg -> dispatches -> LLVM dialect" +
                   llvm::Twine(Specialize.empty() ? "" : " (forward specialized)"));
    auto addTargets = [&](kiln::rt::Manifest &manifest, kiln::rt::ArtifactWriter &writer) {
      return kiln::addCPUTarget(*m, manifest, writer, options,
                                Specialize.empty() ? nullptr : &sizes);
    };
    return finished(succeeded(kiln::writeArtifact(*m, OutputFilename, addTargets)));
  }

  std::string err;
  auto out = mlir::openOutputFile(OutputFilename, &err);
  if (!out) {
    llvm::errs() << "kilnc: error: " << err << "\n";
    return 1;
  }
  switch (emit) {
  case Emit::AST:
    out->os() << fe::printAST(r.Ast, &r.G);
    break;
  case Emit::Params:
    out->os() << fe::formatParams(r.G);
    break;
  case Emit::MLIR: {
    mlir::MLIRContext ctx;
    mlir::ScopedDiagnosticHandler diagHandler(&ctx, printDiagnostic);
    mlir::OwningOpRef<mlir::ModuleOp> m = generateModule(ctx, r.G);
    if (!m)
      return 1;
    m->print(out->os());
    out->os() << "\n";
    break;
  }
  case Emit::Linalg:
  case Emit::LLVM: {
    mlir::DialectRegistry registry;
    kiln::cpu::registerCPUTargetDialects(registry);
    mlir::MLIRContext ctx(registry);
    mlir::OwningOpRef<mlir::ModuleOp> m = generateModule(ctx, r.G);
    if (!m || failed(kiln::lowerForEmit(*m, emit == Emit::LLVM, options)))
      return 1;
    m->print(out->os());
    out->os() << "\n";
    break;
  }
  case Emit::Artifact:
    break; // written above
  }
  out->keep();
  return 0;
}
