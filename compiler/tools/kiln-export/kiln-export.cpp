//===- kiln-export.cpp - Write a .kc artifact from kiln dialect MLIR ------===//
//
// `kiln-export model.mlir -o model.kc` reads a kiln-dialect module (e.g. `kilnc --emit=mlir`
// output; `-` is stdin), builds its manifest and writes the artifact. `--print-manifest`
// prints the manifest JSON instead. A test driver for the export library; `kilnc -o model.kc`
// uses the same library.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact/Export.h"
#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/rt/artifact/Manifest.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace cl = llvm::cl;

static cl::OptionCategory category("kiln-export options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"), cl::init("-"),
                                      cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("The artifact to write (.kc)"),
                                       cl::value_desc("file"), cl::cat(category));
static cl::opt<bool> printManifest("print-manifest",
                                   cl::desc("Print the manifest JSON instead of writing a file"),
                                   cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "kiln-export: kiln dialect MLIR -> .kc artifact\n");
  if (outputFile.empty() == !printManifest) {
    llvm::errs() << "kiln-export: error: give exactly one of -o FILE and --print-manifest\n";
    return 1;
  }

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input = mlir::openInputFile(inputFile, &error);
  if (!input) {
    llvm::errs() << "kiln-export: error: " << error << "\n";
    return 1;
  }
  mlir::MLIRContext context;
  context.loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;

  if (printManifest) {
    kiln::rt::Manifest manifest;
    if (mlir::failed(kiln::buildManifest(*module, manifest)))
      return 1;
    std::string json;
    kiln::rt::Status status = kiln::rt::serializeManifest(manifest, json);
    if (!status.ok()) {
      llvm::errs() << "kiln-export: error: " << status.message() << "\n";
      return 1;
    }
    llvm::outs() << json << "\n";
    return 0;
  }
  return mlir::failed(kiln::writeArtifact(*module, outputFile)) ? 1 : 0;
}
