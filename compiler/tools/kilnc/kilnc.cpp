//===- kilnc.cpp - The Kiln compiler driver -------------------------------===//
#include "kiln/Dialect/Kiln/KilnDialect.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

static llvm::cl::opt<std::string> inputFilename(llvm::cl::Positional,
                                                llvm::cl::desc("<model.kiln>"),
                                                llvm::cl::Required);

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  llvm::cl::ParseCommandLineOptions(argc, argv, "kilnc: the Kiln model compiler\n");
  return 0;
}
